"""API keys and what they may do: scopes, the key check on every keyed route, the
per-key rate limit."""
