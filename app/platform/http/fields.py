"""Rules for text fields that every feature's request models share."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import WithJsonSchema

NO_NUL = r"^[^\x00]*$"
"""PostgreSQL's text and jsonb cannot hold U+0000: a value with one is refused as invalid (422,
the rule stated in the OpenAPI document) instead of failing in the database (500)."""


Amount = Annotated[
    Decimal,
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["18000.00"]}),
]
"""An amount of money in an answer: decimal text, exact to the cent, never a float a client
would round. Declared as text in both of the document's modes, so a model that is also a
webhook's body keeps one schema instead of an `-Input` and an `-Output` twin."""


def iso_8601_only(value: object) -> object:
    """Refuse a number where the document says `date` or `date-time`.

    Pydantic reads a number, or text that is one, as a Unix time: `created_before=0.5` was the
    first second of 1970. The OpenAPI document promises ISO 8601 text, so that is all a request
    may send; a client that meant a Unix time learns it here instead of reading wrong leads.
    """
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        raise ValueError("expected ISO 8601 text, such as 2026-03-01 or 2026-03-01T09:00:00Z")
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.I)
