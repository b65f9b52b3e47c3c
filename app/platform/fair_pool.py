"""A connection pool that hands connections out in the order they were asked for.

asyncpg's pool gives a freed connection to whichever task asks next, not to the one that has
waited longest: under load a newcomer can take the connection a waiter was about to get, again
and again, and that waiter's request lands in the far tail (p99 several times the median). Here
every `acquire` first takes a turn from a first-come-first-served gate as large as the pool, and
gives it back after its connection is back in the pool; a turn is held exactly as long as a
connection, so the gate costs no concurrency, only the order changes.

Built on asyncpg's public surface: `Pool` constructed as `asyncpg.Pool(dsn, **kwargs)`, its
public `acquire` and `release` overridden, and an `asyncio.Semaphore`, whose waiters are served in
order (a newcomer queues behind them).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import asyncpg


class FairPool(asyncpg.Pool):  # type: ignore[misc]
    __slots__ = ("_turns",)

    def __init__(self, dsn: str, *, max_size: int, **kwargs: Any) -> None:
        super().__init__(dsn, max_size=max_size, **kwargs)
        self._turns = asyncio.Semaphore(max_size)

    def acquire(self, *, timeout: float | None = None) -> Turn:
        return Turn(self, timeout)

    async def take(self, limit_s: float | None) -> asyncpg.Connection:
        """A connection, once this caller's turn has come."""
        if self.is_closing():
            raise asyncpg.InterfaceError("pool is closing")
        await self._turns.acquire()
        try:
            return await super().acquire(timeout=limit_s)
        except BaseException:
            self._turns.release()
            raise

    async def release(
        self,
        connection: asyncpg.Connection,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """asyncpg's release (its signature kept), then the turn goes to the next in line."""
        try:
            await super().release(connection, timeout=timeout)
        finally:
            self._turns.release()

    def terminate(self) -> None:
        """Terminate (a close that did not finish in time does too), and wake whoever waits for
        a turn: it is told the pool is closing, and passes its turn on to the next waiter.
        Connections never given back never give their turns back either."""
        super().terminate()
        self._turns.release()


class Turn:
    """`pool.acquire()`, as `async with` or `await` (then `pool.release` gives it back)."""

    __slots__ = ("connection", "pool", "timeout")

    def __init__(self, pool: FairPool, timeout: float | None) -> None:
        self.pool = pool
        self.timeout = timeout
        self.connection: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        self.connection = await self.pool.take(self.timeout)
        return self.connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            await self.pool.release(connection)

    def __await__(self) -> Any:
        return self.pool.take(self.timeout).__await__()
