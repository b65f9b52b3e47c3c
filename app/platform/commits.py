"""Whether a request that failed may still have changed something.

A server can make a commit durable and die before its answer reaches the service; the client
must then not be told "nothing was changed". What can make a change durable is known from the
statement itself: `COMMIT` inside a transaction, and outside one (autocommit) a statement that
writes. Every other statement that fails leaves nothing behind: a transaction that never got its
`COMMIT` is rolled back by the server, alive or recovering.

`WatchedConnection` is the pool's connection class. While a request is being answered (the
request-limits layer opens a `WriteWatch` for it), it notes when such a statement was sent and
did not come back with a refusal from the server; the error answers then say that the outcome is
unknown instead of promising that nothing was changed. Outside a request it does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")

_WRITES = re.compile(r"\b(insert|update|delete|merge|copy|call|truncate)\b", re.IGNORECASE)
"""Statement words that may write; a false alarm costs precision, a miss would cost the truth."""
_COMMIT = re.compile(r"\s*(commit|end)\b", re.IGNORECASE)
_UNCERTAIN_CLASSES = ("57", "08")
"""SQLSTATE classes that do not prove a statement failed: operator intervention (a shutdown, a
crash of another backend, a cancel) and connection exceptions may arrive after a commit."""


@dataclass(slots=True)
class WriteWatch:
    """One request's record: whether a change may have been saved."""

    maybe_saved: bool = False


_watch: ContextVar[WriteWatch | None] = ContextVar("leadstatus_write_watch", default=None)


@contextmanager
def watching_writes() -> Iterator[WriteWatch]:
    """Watch the writes of the request answered inside (and of whatever it starts)."""
    watch = WriteWatch()
    token = _watch.set(watch)
    try:
        yield watch
    finally:
        _watch.reset(token)


def maybe_saved() -> bool:
    """Whether the current request sent something that may have made a change durable."""
    watch = _watch.get()
    return watch is not None and watch.maybe_saved


_kinds: dict[str, tuple[bool, bool]] = {}
"""Per statement text (the service's are constants): whether it commits, whether it may write."""


def _kind(query: str) -> tuple[bool, bool]:
    known = _kinds.get(query)
    if known is None:
        known = (_COMMIT.match(query) is not None, _WRITES.search(query) is not None)
        if len(_kinds) < 10_000:
            _kinds[query] = known
    return known


def _refused_by_server(error: BaseException) -> bool:
    """The server answered the statement with an error: it changed nothing."""
    return isinstance(error, asyncpg.PostgresError) and not (error.sqlstate or "").startswith(
        _UNCERTAIN_CLASSES
    )


class WatchedConnection(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg's connection, noting the statements that may save a change (see the module).

    Its query methods keep asyncpg's signatures, `timeout` included (hence the ASYNC109 waivers).
    """

    def _may_save(self, query: str) -> bool:
        commits, writes = _kind(query)
        return commits if self.is_in_transaction() else writes

    async def _watched(self, query: str, call: Awaitable[T]) -> T:
        watch = _watch.get()
        if watch is None or watch.maybe_saved or not self._may_save(query):
            return await call
        watch.maybe_saved = True
        try:
            return await call
        except BaseException as error:
            # Cancelled or cut off while the server may have done it: it stays "maybe".
            if _refused_by_server(error):
                watch.maybe_saved = False
            raise

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109
        return await self._watched(query, super().execute(query, *args, timeout=timeout))

    async def executemany(
        self,
        command: str,
        args: Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        return await self._watched(command, super().executemany(command, args, timeout=timeout))

    async def fetch(self, query: str, *args: Any, timeout: float | None = None, **kw: Any) -> Any:  # noqa: ASYNC109
        return await self._watched(query, super().fetch(query, *args, timeout=timeout, **kw))

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109
        **kw: Any,
    ) -> Any:
        return await self._watched(query, super().fetchrow(query, *args, timeout=timeout, **kw))

    async def fetchval(
        self,
        query: str,
        *args: Any,
        column: int = 0,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        return await self._watched(
            query, super().fetchval(query, *args, column=column, timeout=timeout)
        )
