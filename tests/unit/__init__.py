"""Unit tests of the pure lead-status domain: no database, no web framework, no clock."""
