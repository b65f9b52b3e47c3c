"""Pipelines: the customer's statuses, moves and reasons as versioned definitions; the
`Workflow` value the rest of the app decides with, and the per-process cache of versions."""
