"""Rules for text fields that every feature's request models share."""

from __future__ import annotations

NO_NUL = r"^[^\x00]*$"
"""PostgreSQL's text and jsonb cannot hold U+0000: a value with one is refused as invalid (422,
the rule stated in the OpenAPI document) instead of failing in the database (500)."""
