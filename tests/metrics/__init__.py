"""The metrics feature: percentiles, the rollups and their fold, the reads over HTTP."""
