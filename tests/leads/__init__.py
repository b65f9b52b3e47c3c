"""The leads feature: its rules, its SQL and use cases on real PostgreSQL, its routes over HTTP."""
