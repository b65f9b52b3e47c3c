"""The demo market: `leadstatus seed` and the history it writes."""
