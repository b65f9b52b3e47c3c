"""Leads and their status history: the lead rules, the one-statement writes, the use cases,
the routes (single and batch)."""
