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


def decided_under_current(pipeline: str, version: str) -> str:
    """The guard of every write that takes a status from a pipeline version: that version is
    still the pipeline's current one. An edit of a pipeline holds `leads` in SHARE ROW EXCLUSIVE
    mode until it commits, and in READ COMMITTED a statement that waited for that lock reads
    with a snapshot taken after it: a decision taken under the version the edit replaced
    writes nothing, and the use case re-decides under the new one."""
    return (
        f"EXISTS (SELECT 1 FROM pipelines WHERE name = {pipeline} AND current_version = {version})"
    )
