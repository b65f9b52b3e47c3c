"""How every answer, webhook body and published message writes its values as JSON.

One writer, so that a time reads the same wherever a client meets it: UTC with `Z`
(`2026-03-01T09:00:00.250000Z`), as the answers the framework writes have it, never `+00:00`
in one place and `Z` in another. Amounts of money are decimal text, exact to the cent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not written as JSON")


def to_json(value: Any) -> bytes:
    """`value` as JSON; times (asyncpg reads them in UTC) end in `Z`."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_UTC_Z)
