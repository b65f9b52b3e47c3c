"""SQL fragments shared by the schema and the queries.

Kept apart from `tables` so that serving requests never imports SQLAlchemy: the request path is
plain asyncpg, and a smaller heap keeps garbage-collection pauses out of tail latency.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


def sql_list(values: Iterable[StrEnum]) -> str:
    """`'a', 'b'`: enum values as SQL literals (our own values, never user input)."""
    return ", ".join(f"'{v.value}'" for v in values)


IS_OPEN = "outcome = 'open'"
"""A lead being worked, whatever its pipeline calls the status (the open-email index's predicate:
a statement that relies on that index must spell it the same way)."""
IS_CLOSED = "outcome <> 'open'"
"""Decided, for now or for good (the nurture-queue index's predicate, spelled the same way)."""
