"""SQL fragments derived from the workflow tables, shared by the schema and the queries.

Kept apart from `tables` so that serving requests never imports SQLAlchemy: the request path is
plain asyncpg, and a smaller heap keeps garbage-collection pauses out of tail latency.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.domain.status import OPEN_STATUSES, LeadStatus


def sql_list(values: Iterable[StrEnum]) -> str:
    """`'a', 'b'`: enum values as SQL literals (our own values, never user input)."""
    return ", ".join(f"'{v.value}'" for v in values)


ALL_STATUSES_SQL = sql_list(LeadStatus)
OPEN_STATUSES_SQL = sql_list(OPEN_STATUSES)
