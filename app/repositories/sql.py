"""SQL fragments derived from the workflow tables, shared by the schema and the queries.

Kept apart from `tables` so that serving requests never imports SQLAlchemy: the request path is
plain asyncpg, and a smaller heap keeps garbage-collection pauses out of tail latency.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.domain.status import OPEN_STATUSES


def sql_list(values: Iterable[StrEnum]) -> str:
    """`'a', 'b'`: enum values as SQL literals (our own values, never user input)."""
    return ", ".join(f"'{v.value}'" for v in values)


OPEN_STATUSES_SQL = sql_list(OPEN_STATUSES)


REASON_MATCHES_TARGET_SQL = "lead_status_change_reason_valid(reopened, to_status, reason)"
"""A history row's reason is one of its target's codes (a reopening's, one of reopen's).

The migrations define the function (PL/pgSQL, compiled once per connection): spelled out as a
check expression, the rule was re-read from its stored text on every history insert.
"""
