"""Sales metrics: win rates, funnel, durations, losses, read from rollups that a background
fold keeps, exact whenever it runs."""
