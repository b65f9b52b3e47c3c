"""The pipelines feature: definition rules, the `leadstatus pipeline` command, the routes."""
