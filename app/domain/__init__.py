"""The lead-status workflow as plain Python: no I/O, no framework, no clock of its own."""
