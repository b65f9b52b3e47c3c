"""The `leadstatus` command: serve, migrate, demo, and the admin commands for keys,
intake sources and pipelines."""
