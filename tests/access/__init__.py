"""The access feature: the rate limit's arithmetic, `leadstatus apikey`, keys and scopes."""
