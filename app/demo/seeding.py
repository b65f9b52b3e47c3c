"""Seed a database with demo leads: generate batches in worker processes, COPY them in order.

Generation (the domain deciding every step) is CPU-bound Python, so it runs in a process pool
while this process streams finished batches into PostgreSQL; batches are loaded in index order,
which keeps ids, and so the whole load, reproducible. One transaction holds the table lock, the
rows and the sequence moves: a failed or interrupted seed leaves the database as it was.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from app.demo.batch import Batch, BatchOrder, make_batch, plan_batches
from app.leads import bulk
from app.platform.db import asyncpg_dsn

Say = Callable[[str], None]
STATUS_COLUMN = bulk.LEAD_COLUMNS.index("status")
PROGRESS_EVERY_S = 2.0


def _quiet(message: str) -> None:
    """The default `say`: a library call prints nothing."""


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """What to seed: `leads` leads over the two years before `now`, drawn from `seed`."""

    leads: int
    seed: int
    now: datetime
    if_fewer: bool = False
    """Seed only when the database holds fewer than `leads` leads (so a demo seeds once)."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass(slots=True)
class SeedSummary:
    """What a seed run did."""

    existing_leads: int
    leads: int = 0
    changes: int = 0
    first_lead_id: int | None = None
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> bool:
        return self.leads == 0

    @property
    def rows_per_second(self) -> float:
        return (self.leads + self.changes) / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        if self.skipped:
            return f"Nothing seeded (the database holds {self.existing_leads:,} leads)."
        last = (self.first_lead_id or 0) + self.leads - 1
        mix = ", ".join(
            f"{status} {count / self.leads:.1%}" for status, count in self.statuses.most_common()
        )
        return (
            f"Seeded {self.leads:,} leads (ids {self.first_lead_id:,}-{last:,}) with "
            f"{self.changes:,} status changes in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s).\nStatus now: {mix}."
        )


class _Progress:
    """Counts for the stderr progress line, printed at most every `PROGRESS_EVERY_S` seconds."""

    def __init__(self, total: int, say: Say) -> None:
        self.total = total
        self.say = say
        self.started = time.perf_counter()
        self.last_said = self.started
        self.generated = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def batch_generated(self, done: asyncio.Future[Batch]) -> None:
        if not done.cancelled() and done.exception() is None:
            self.generated += len(done.result().leads)

    def batch_loaded(self, summary: SeedSummary, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.last_said < PROGRESS_EVERY_S:
            return
        self.last_said = now
        elapsed = now - self.started
        rows = summary.leads + summary.changes
        self.say(
            f"  generated {self.generated:,}/{self.total:,} leads, loaded {summary.leads:,} leads"
            f" + {summary.changes:,} changes ({rows / elapsed:,.0f} rows/s, {elapsed:.1f} s)"
        )


async def seed_demo(url: str, plan: SeedPlan, *, say: Say = _quiet) -> SeedSummary:
    """Append `plan.leads` demo leads with their history to the database at `url`."""
    conn: asyncpg.Connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            await bulk.lock_for_bulk_load(conn)
            existing = await bulk.count_leads(conn)
            summary = SeedSummary(existing_leads=existing)
            if plan.leads == 0 or (plan.if_fewer and existing >= plan.leads):
                return summary
            ids = await bulk.next_ids(conn)
            summary.first_lead_id = ids.lead
            say(
                f"Seeding {plan.leads:,} leads (seed {plan.seed}, up to {plan.now.isoformat()}) "
                f"after {existing:,} existing, with {plan.workers} generator processes ..."
            )
            progress = _Progress(plan.leads, say)
            orders = plan_batches(
                leads=plan.leads, seed=plan.seed, now=plan.now, first_lead_id=ids.lead
            )
            await bulk.pause_rollups(conn)
            await bulk.leave_unannounced(conn)
            await _load(conn, orders, ids.change, summary, progress, workers=plan.workers)
            await bulk.advance_sequences(conn)
            say("  recomputing the metrics rollups from the history ...")
            await bulk.rebuild_rollups(conn)
            summary.seconds = progress.elapsed()
            progress.batch_loaded(summary, final=True)
        return summary
    finally:
        await conn.close()


async def _load(
    conn: asyncpg.Connection,
    orders: Iterator[BatchOrder],
    first_change_id: int,
    summary: SeedSummary,
    progress: _Progress,
    *,
    workers: int,
) -> None:
    """Keep every worker busy while batches are COPYed in index order as they come back."""
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_process_context())
    pending: deque[asyncio.Future[Batch]] = deque()

    def order_next() -> None:
        order = next(orders, None)
        if order is not None:
            future = loop.run_in_executor(pool, make_batch, order)
            future.add_done_callback(progress.batch_generated)
            pending.append(future)

    change_id = first_change_id
    try:
        for _ in range(workers * 2):
            order_next()
        while pending:
            batch = await pending.popleft()
            order_next()
            await bulk.copy_leads(conn, batch.leads)
            await bulk.copy_changes(conn, _numbered(batch.changes, change_id))
            change_id += len(batch.changes)
            summary.leads += len(batch.leads)
            summary.changes += len(batch.changes)
            summary.statuses.update(row[STATUS_COLUMN] for row in batch.leads)
            progress.batch_loaded(summary)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _numbered(changes: list[bulk.Row], first_id: int) -> Iterable[bulk.Row]:
    """History rows with their ids: known only here, where batches are loaded in order."""
    return ((change_id, *row) for change_id, row in enumerate(changes, first_id))


def _process_context() -> multiprocessing.context.BaseContext:
    """Forkserver where there is one: workers start clean, not as copies of an event loop."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
