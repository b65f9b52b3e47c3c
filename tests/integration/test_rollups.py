"""The rollups the triggers maintain are exact: each equals `metrics_rebuild()`'s recomputation.

Every test drives writes (through the use cases, the repository or plain SQL), snapshots the four
rollup tables, rebuilds them from the history with `SELECT metrics_rebuild()`, snapshots again and
compares. Rows whose counts are all zero are dropped first: incremental maintenance leaves them
behind where a rebuild creates nothing. Totals are also checked against the history itself, so a
mistake shared by the triggers and the rebuild cannot hide behind their agreement. The workloads
run on the default pipeline and on a custom one (examples/enterprise.json), whose edit into a
second version remaps the leads of the statuses it removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from app.leads import service
from app.leads.domain import ChangeDetails
from app.leads.repository import LeadRepository, to_domain
from app.metrics.folding import fold_forever
from app.metrics.rollups import vacuum_churning_tables
from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.workflow import (
    REMAP_REASON,
    ExtraField,
    Outcome,
    ReasonRule,
    TargetRule,
    Workflow,
)
from app.platform.errors import ConcurrentChange, TransitionNotAllowed
from tests.integration.metrics_history import (
    ENTERPRISE,
    ENTERPRISE_REMAP,
    define_enterprise,
    edit_enterprise_with_remap,
    stage_lists,
    write_history,
)

Key = tuple[Any, ...]
Snapshot = dict[str, dict[Key, dict[str, int]]]

KEYS: dict[str, tuple[str, ...]] = {
    "metrics_daily": ("day", "pipeline", "owner", "source", "segment"),
    "metrics_durations": ("measure", "dimension", "status", "day", "pipeline", "value", "days"),
    "metrics_losses": (
        "overall",
        "day",
        "pipeline",
        "owner",
        "source",
        "segment",
        "status",
        "reason",
        "from_status",
        "competitor",
    ),
    "metrics_pipeline": ("pipeline", "status", "owner", "source", "segment", "revisit_month"),
}
"""Each rollup table's key columns (its unique index's); every other column is a count."""

_UNIQUE_KEYS = """
SELECT array_agg(a.attname::text ORDER BY k.ord)
  FROM pg_index i
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = $1::regclass AND i.indisunique AND k.ord <= i.indnkeyatts
 GROUP BY i.indexrelid
"""

OWNERS = ["alex", "sam", "kim", None]
SOURCES = ["web", "referral", "event", None]
SEGMENTS = ["smb", "enterprise", None]
COMPETITORS = ["Globex", "Initech", "Umbrella"]
DIMS = ("owner", "source", "segment")
CLOSING = [o.value for o in Outcome if o is not Outcome.OPEN]
STAGES = 12


# --- snapshots and the exactness check ------------------------------------------------------


async def _read(
    conn: asyncpg.Connection | asyncpg.Pool, table: str, key: tuple[str, ...], query: str
) -> dict[Key, dict[str, int]]:
    rows: dict[Key, dict[str, int]] = {}
    seen: set[Key] = set()
    for row in await conn.fetch(query):
        k = tuple(row[c] for c in key)
        counts = {c: v for c, v in row.items() if c not in key}
        assert counts and all(type(v) is int for v in counts.values()), (table, counts)
        assert k not in seen, f"{table} holds key {k} twice"
        seen.add(k)
        if any(counts.values()):
            rows[k] = counts
    return rows


async def snapshot(conn: asyncpg.Connection | asyncpg.Pool) -> Snapshot:
    """The four rollups as {table: {key: {count column: value}}}, all-zero rows dropped.

    Read first as the metrics read them (rollup plus pending deltas, `<table>_now`), then
    folded: the rollup tables alone must then hold exactly that, each key once.
    """
    tables: Snapshot = {}
    for table, key in KEYS.items():
        unique = [list(r[0]) for r in await conn.fetch(_UNIQUE_KEYS, table)]
        assert unique == [list(key)], f"{table}: keyed by {unique}, this test expects {key}"
        counts = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = $1 ORDER BY ordinal_position",
                table,
            )
            if r["column_name"] not in key
        ]
        keys = ", ".join(key)
        sums = ", ".join(f"sum({c})::integer AS {c}" for c in counts)
        tables[table] = await _read(
            conn, table, key, f"SELECT {keys}, {sums} FROM {table}_now GROUP BY {keys}"
        )
    await conn.execute("SELECT metrics_fold()")
    for table, key in KEYS.items():
        folded = await _read(conn, table, key, f"SELECT * FROM {table}")
        assert folded == tables[table], f"{table}: folding changed what the metrics read"
    return tables


def _show_key(table: str, key: Key) -> str:
    def show(v: Any) -> str:
        return v.isoformat() if isinstance(v, date) else repr(v)

    return ", ".join(f"{c}={show(v)}" for c, v in zip(KEYS[table], key, strict=True))


def _nonzero(counts: Mapping[str, int] | None) -> dict[str, int]:
    return {c: v for c, v in (counts or {}).items() if v}


def diff(maintained: Snapshot, rebuilt: Snapshot) -> list[str]:
    """One readable line per rollup row on which the two snapshots disagree."""
    lines: list[str] = []
    for table in KEYS:
        got, want = maintained[table], rebuilt[table]
        for key in sorted(got.keys() | want.keys(), key=repr):
            a, b = got.get(key), want.get(key)
            if a == b:
                continue
            columns = sorted((a or {}).keys() | (b or {}).keys())
            changes = ", ".join(
                f"{c}: {(a or {}).get(c, 0)} (triggers) vs {(b or {}).get(c, 0)} (rebuild)"
                for c in columns
                if (a or {}).get(c, 0) != (b or {}).get(c, 0)
            )
            lines.append(f"{table} [{_show_key(table, key)}] {changes}")
    return lines


async def rebuild_and_compare(pool: asyncpg.Pool) -> tuple[Snapshot, Snapshot]:
    """Snapshot the maintained rollups, rebuild them from the history, snapshot again."""
    async with pool.acquire() as conn:
        maintained = await snapshot(conn)
        await conn.execute("SELECT metrics_rebuild()")
        rebuilt = await snapshot(conn)
    return maintained, rebuilt


async def assert_rollups_exact(pool: asyncpg.Pool) -> Snapshot:
    """The maintained rollups equal the rebuild; returns the (now rebuilt) snapshot."""
    maintained, rebuilt = await rebuild_and_compare(pool)
    lines = diff(maintained, rebuilt)
    assert not lines, (
        f"trigger-maintained rollups differ from metrics_rebuild() on {len(lines)} rows:\n"
        + "\n".join(lines[:60])
    )
    assert maintained == rebuilt  # the same, down to the column names
    return rebuilt


def total(snap: Snapshot, table: str, column: str, **where: Any) -> int:
    """Sum of one count column over the rows whose key columns match `where`."""
    idx = {c: KEYS[table].index(c) for c in where}
    return sum(
        counts[column]
        for key, counts in snap[table].items()
        if all(key[idx[c]] == v for c, v in where.items())
    )


def day_of(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _closes(change: Mapping[str, Any]) -> bool:
    return change["to_outcome"] != "open" and change["reason"] != REMAP_REASON


async def assert_totals_match_history(pool: asyncpg.Pool, snap: Snapshot) -> None:
    """What the rollups add up to, computed independently from the leads and their history (and
    each pipeline version's stages, from its definition document)."""
    leads = await pool.fetch("SELECT * FROM leads")
    changes = await pool.fetch("SELECT * FROM lead_status_changes ORDER BY id")
    stages = await stage_lists(pool)
    latest_closing: dict[int, str] = {}
    reached: dict[int, set[int]] = {lead["id"]: {1} for lead in leads}
    for c in changes:
        if c["to_outcome"] == "open":
            reached[c["lead_id"]].add(
                stages[(c["pipeline"], c["pipeline_version"])].index(c["to_status"]) + 1
            )
        if _closes(c):
            latest_closing[c["lead_id"]] = c["to_outcome"]
    pipeline_of = {lead["id"]: lead["pipeline"] for lead in leads}

    assert total(snap, "metrics_daily", "created") == len(leads)
    for lead in leads:  # leads count for their pipeline, current dimensions and creation day
        where = {
            "day": day_of(lead["created_at"]),
            "pipeline": lead["pipeline"],
            **{d: lead[d] for d in DIMS},
        }
        assert total(snap, "metrics_daily", "created", **where) == sum(
            1
            for x in leads
            if {
                "day": day_of(x["created_at"]),
                "pipeline": x["pipeline"],
                **{d: x[d] for d in DIMS},
            }
            == where
        )
    for pipeline in {lead["pipeline"] for lead in leads}:
        for stage in range(2, STAGES + 1):
            assert total(snap, "metrics_daily", f"reached_{stage}", pipeline=pipeline) == sum(
                stage in r for lead_id, r in reached.items() if pipeline_of[lead_id] == pipeline
            ), (pipeline, stage)
    assert total(snap, "metrics_daily", "won_now") == sum(x["outcome"] == "won" for x in leads)
    closed = Counter(latest_closing.values())
    for outcome in CLOSING:
        assert total(snap, "metrics_daily", f"closed_{outcome}") == closed[outcome], outcome
    assert total(snap, "metrics_daily", "reopened") == sum(c["reopened"] for c in changes)
    reopened_leads = {c["lead_id"] for c in changes if c["reopened"]}
    assert total(snap, "metrics_daily", "reopened_won") == sum(
        x["outcome"] == "won" and x["id"] in reopened_leads for x in leads
    )

    losses = [c for c in changes if _closes(c) and c["to_outcome"] in ("lost", "no_decision")]
    for overall in (False, True):  # per dimensions, and once more per day alone
        assert total(snap, "metrics_losses", "n", overall=overall) == len(losses)
        assert total(snap, "metrics_losses", "n", overall=overall, competitor=None) == sum(
            c["competitor"] is None for c in losses
        )
        for c in losses:
            where = {
                "overall": overall,
                "day": day_of(c["at"]),
                "pipeline": c["pipeline"],
                **{d: None if overall else c[d] for d in DIMS},
                "status": c["to_outcome"],
                "reason": c["reason"],
                "from_status": c["from_status"],
                "competitor": c["competitor"],
            }
            assert total(snap, "metrics_losses", "n", **where) == sum(
                day_of(x["at"]) == where["day"]
                and all(
                    x[k] == where[k] for k in ("pipeline", "reason", "from_status", "competitor")
                )
                and x["to_outcome"] == where["status"]
                and (overall or all(x[d] == c[d] for d in DIMS))
                for x in losses
            )
    assert all(k[3:6] == (None, None, None) for k in snap["metrics_losses"] if k[0])
    stays = [c for c in changes if c["from_outcome"] == "open"]
    for dimension in ("all", "owner", "source", "segment"):
        assert total(snap, "metrics_durations", "n", measure="stay", dimension=dimension) == len(
            stays
        )
        cycles = total(snap, "metrics_durations", "n", measure="cycle", dimension=dimension)
        assert cycles == closed["won"], dimension
    assert total(snap, "metrics_pipeline", "n") == len(leads)
    by_status = Counter((x["pipeline"], x["status"]) for x in leads)
    for (pipeline, status), n in by_status.items():
        assert total(snap, "metrics_pipeline", "n", pipeline=pipeline, status=status) == n
    assert sum(by_status.values()) == len(leads)


@pytest.fixture
async def own_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection outside the pool: session settings made on it cannot leak into other tests."""
    conn = await asyncpg.connect(database_url)
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
    try:
        yield conn
    finally:
        await conn.close()


# --- a randomized workload through the use cases --------------------------------------------


def _details(
    rng: random.Random, rule: TargetRule, reason: ReasonRule, now: datetime
) -> ChangeDetails:
    """What a change with `reason` must carry, plus now and then what it may carry."""
    wanted = set(reason.requires) | {f for f in rule.optional if rng.random() < 0.4}
    return ChangeDetails(
        note="see call notes" if ExtraField.NOTE in wanted or rng.random() < 0.2 else None,
        competitor=rng.choice(COMPETITORS) if ExtraField.COMPETITOR in wanted else None,
        revisit_at=now + timedelta(days=rng.randint(2, 240), hours=rng.randint(0, 23))
        if ExtraField.REVISIT_AT in wanted
        else None,
        future_opportunity=rng.choice([True, False])
        if ExtraField.FUTURE_OPPORTUNITY in wanted
        else None,
        actor=rng.choice(OWNERS),
    )


def _least_used(rng: random.Random, options: Sequence[Any], used: Counter[Any]) -> Any:
    """Mostly the option used least so far (so every kind comes up), sometimes any option."""
    if rng.random() < 0.3:
        return rng.choice(options)
    fewest = min(used[o] for o in options)
    return rng.choice([o for o in options if used[o] == fewest])


@dataclass
class Workload:
    """Random but reproducible use-case calls on one pipeline, remembering what each lead has
    been through; every choice is drawn from the pipeline's current workflow."""

    pool: asyncpg.Pool
    workflows: Workflows
    rng: random.Random
    pipeline: str = DEFAULT_PIPELINE
    status: dict[int, str] = field(default_factory=dict)
    reopened: set[int] = field(default_factory=set)
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    reopen_targets: Counter[str | None] = field(default_factory=Counter)
    patched: Counter[str] = field(default_factory=Counter)
    won_after_reopen: int = 0

    async def workflow(self) -> Workflow:
        return await self.workflows.current(self.pipeline)

    async def create(self) -> None:
        n = len(self.status)
        row = await service.create_lead(
            self.pool,
            self.workflows,
            pipeline=self.pipeline,
            fields={
                "email": f"w{n}@{self.pipeline}.example.com",
                "owner": self.rng.choice(OWNERS),
                "source": self.rng.choice(SOURCES),
                "segment": self.rng.choice(SEGMENTS),
                "attributes": {},
            },
        )
        self.status[row["id"]] = row["status"]

    async def transition(self, lead_id: int) -> None:
        workflow = await self.workflow()
        current = self.status[lead_id]
        targets = sorted(workflow.allowed_targets(current))
        to: str = _least_used(self.rng, [(current, t) for t in targets], self.moves)[1]
        won = [t for t in targets if workflow.outcome(t) is Outcome.WON]
        if lead_id in self.reopened and won and self.rng.random() < 0.5:
            to = self.rng.choice(won)
        rule = workflow.reasons[to]
        code = _least_used(self.rng, [(to, r.code) for r in rule.reasons], self.reasons)[1]
        reason = rule.reason(code)
        assert reason is not None
        details = _details(self.rng, rule, reason, datetime.now(UTC))
        row = await service.transition_lead(
            self.pool, self.workflows, lead_id=lead_id, to=to, reason=code, details=details
        )
        assert row["status"] == to
        self.moves[current, to] += 1
        self.reasons[to, code] += 1
        self.won_after_reopen += workflow.outcome(to) is Outcome.WON and lead_id in self.reopened
        self.status[lead_id] = to

    async def reopen(self, lead_id: int) -> None:
        workflow = await self.workflow()
        rule = workflow.reopen
        assert rule is not None
        to = _least_used(
            self.rng, [None, *sorted(workflow.open_reopen_targets)], self.reopen_targets
        )
        code = _least_used(self.rng, [("reopen", r.code) for r in rule.reasons], self.reasons)[1]
        reason = rule.reason(code)
        assert reason is not None
        details = _details(self.rng, rule, reason, datetime.now(UTC))
        row = await service.reopen_lead(
            self.pool, self.workflows, lead_id=lead_id, reason=code, to=to, details=details
        )
        assert row["reopen_count"] >= 1 and row["outcome"] == "open"
        self.reopen_targets[to] += 1
        self.reasons["reopen", code] += 1
        self.reopened.add(lead_id)
        self.status[lead_id] = row["status"]

    async def patch(self, lead_id: int) -> None:
        names = self.rng.sample(DIMS, self.rng.randint(1, 3))
        values = {"owner": OWNERS, "source": SOURCES, "segment": SEGMENTS}
        changes = {n: self.rng.choice(values[n]) for n in names}
        before = await self.pool.fetchrow("SELECT * FROM leads WHERE id = $1", lead_id)
        row = await service.update_lead(self.pool, lead_id=lead_id, changes=changes, if_match=None)
        assert all(row[n] == v for n, v in changes.items())
        if any(before[n] != v for n, v in changes.items()):
            self.patched["open" if before["outcome"] == "open" else "closed"] += 1

    async def step(self) -> None:
        workflow = await self.workflow()
        open_ = [i for i, s in self.status.items() if workflow.allowed_targets(s)]
        closed = [i for i, s in self.status.items() if workflow.reopenable(s)]
        roll = self.rng.random()
        if len(self.status) < 8 or roll < 0.2:
            await self.create()
        elif roll < 0.62 and open_:
            await self.transition(self.rng.choice(open_))
        elif roll < 0.8 and closed:
            await self.reopen(self.rng.choice(closed))
        else:
            await self.patch(self.rng.choice(sorted(self.status)))

    async def reread(self) -> None:
        """Where the leads stand after a pipeline edit moved some of them."""
        rows = await self.pool.fetch(
            "SELECT id, status FROM leads WHERE id = ANY($1::bigint[])", list(self.status)
        )
        self.status = {r["id"]: r["status"] for r in rows}


async def _run(work: Workload, steps: int) -> Snapshot:
    for n in range(1, steps + 1):
        await work.step()
        if n % 65 == 0:  # also part-way: errors that later cancel out still show
            await assert_rollups_exact(work.pool)
    snap = await assert_rollups_exact(work.pool)
    await assert_totals_match_history(work.pool, snap)
    return snap


@pytest.mark.parametrize("pipeline", [DEFAULT_PIPELINE, ENTERPRISE])
async def test_random_workload_through_the_use_cases_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows, pipeline: str
) -> None:
    if pipeline != DEFAULT_PIPELINE:
        await define_enterprise(pool, workflows)
    # The seed is chosen so that the workload covers what the assertions below claim.
    work = Workload(pool, workflows, random.Random(f"1/{pipeline}"), pipeline)
    workflow = await work.workflow()
    snap = await _run(work, 260)

    # The workload really covered what it claims to.
    every_move = {(s, t) for s in workflow.keys for t in workflow.allowed_targets(s)}
    assert every_move <= set(work.moves), sorted(every_move - set(work.moves))
    assert set(work.reopen_targets) == {None, *workflow.open_reopen_targets}
    assert work.won_after_reopen > 0
    assert work.patched["open"] > 0 and work.patched["closed"] > 0
    # Reasons that need a competitor or a note came up, a reopening's too.
    assert workflow.reopen is not None
    rules = {**workflow.reasons, "reopen": workflow.reopen}
    used = {f for t, code in work.reasons for f in getattr(rules[t].reason(code), "requires", ())}
    assert {ExtraField.COMPETITOR, ExtraField.NOTE} <= used, used
    reopen_codes = {code for t, code in work.reasons if t == "reopen"}
    assert reopen_codes == set(workflow.reopen.codes)
    assert len(work.status) >= 40
    dims = await pool.fetchrow(
        "SELECT bool_or(owner IS NULL) AS o, bool_or(source IS NULL) AS s,"
        " bool_or(segment IS NULL) AS g, count(DISTINCT owner) AS owners FROM leads"
    )
    assert dims["o"] and dims["s"] and dims["g"] and dims["owners"] >= 3
    months = {k[5] for k in snap["metrics_pipeline"] if k[5] is not None}
    assert len(months) >= 2, "closed leads should fall into several revisit months"


async def test_a_pipeline_edit_with_remaps_amid_a_random_workload_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Enterprise leads worked on version 1, then an edit removes an open and a lost status
    (their leads remapped) and adds two open stages; the work goes on under version 2, with
    leads of the default pipeline worked alongside."""
    await define_enterprise(pool, workflows)
    custom = Workload(pool, workflows, random.Random("remap/enterprise"), ENTERPRISE)
    default = Workload(pool, workflows, random.Random("remap/default"), DEFAULT_PIPELINE)
    for _ in range(150):
        await custom.step()
    for _ in range(40):
        await default.step()
    # Whatever the workload left there, a lead in each status the edit removes.
    for path in (
        [("discovery", "call_held"), ("proof_of_concept", "poc_agreed")],
        [("discovery", "call_held"), ("proposal", "proposal_sent")],
    ):
        await custom.create()
        lead_id = max(custom.status)
        await _move(pool, workflows, lead_id, path)
        custom.status[lead_id] = path[-1][0]
    last = max(custom.status)
    await service.transition_lead(
        pool,
        workflows,
        lead_id=last,
        to="lost_to_competitor",
        reason="chose_competitor",
        details=ChangeDetails(competitor="Globex"),
    )
    custom.status[last] = "lost_to_competitor"
    held = Counter(custom.status.values())
    assert all(held[old] > 0 for old in ENTERPRISE_REMAP), held
    moved = await edit_enterprise_with_remap(pool, workflows)
    assert moved == {old: held[old] for old in ENTERPRISE_REMAP}
    await custom.reread()
    assert not set(custom.status.values()) & set(ENTERPRISE_REMAP)
    before = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, before)
    for _ in range(3):
        for _ in range(50):
            await custom.step()
        for _ in range(15):
            await default.step()
        await assert_rollups_exact(pool)
    # One deal through both new stages: stage 5 exists only in version 2.
    await custom.create()
    await _move(
        pool,
        workflows,
        max(custom.status),
        [
            ("discovery", "call_held"),
            ("proposal", "proposal_sent"),
            ("security_review", "security_review_started"),
            ("legal_review", "legal_review_started"),
        ],
    )
    snap = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, snap)
    v2 = await pool.fetchval(
        "SELECT count(*) FROM lead_status_changes"
        " WHERE pipeline = $1 AND pipeline_version = 2 AND reason <> $2",
        ENTERPRISE,
        REMAP_REASON,
    )
    assert v2 > 50
    assert total(snap, "metrics_daily", "reached_5", pipeline=ENTERPRISE) > 0


# --- history at chosen times ----------------------------------------------------------------

MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def days_ago(n: int, hour: int = 12) -> datetime:
    """Midday `n` UTC days back: far from any day boundary."""
    return MIDNIGHT - timedelta(days=n) + timedelta(hours=hour)


async def _record_by_sql(
    conn: asyncpg.Connection,
    workflow: Workflow,
    lead_id: int,
    to: str,
    reason: str,
    at: datetime,
    *,
    reopen: bool = False,
    competitor: str | None = None,
    revisit_at: datetime | None = None,
) -> None:
    """Move a lead with plain SQL (lead row, then a history INSERT with an explicit `at`).

    The domain checks the move first (under `workflow`), so the history obeys the workflow.
    """
    row = await conn.fetchrow("SELECT * FROM leads WHERE id = $1", lead_id)
    lead = to_domain(row)
    details = ChangeDetails(competitor=competitor, revisit_at=revisit_at)
    change = (
        lead.reopen(workflow, reason, now=at, to=to, details=details)
        if reopen
        else lead.transition(workflow, to, reason, now=at, details=details)
    )
    after = lead.apply(change)
    async with conn.transaction():
        await conn.execute(
            "UPDATE leads SET status = $2, status_reason = $3, version = $4, reopen_count = $5,"
            " closed_from = $6, revisit_at = $7, closed_at = $8, updated_at = $9, outcome = $10,"
            " pipeline_version = $11 WHERE id = $1",
            lead_id,
            after.status,
            after.status_reason,
            after.version,
            after.reopen_count,
            after.closed_from,
            after.revisit_at,
            after.closed_at,
            at,
            change.to_outcome.value,
            change.pipeline_version,
        )
        await conn.execute(
            "INSERT INTO lead_status_changes (lead_id, from_status, to_status, reason, reopened,"
            " competitor, revisit_at, owner, source, segment, at, pipeline, pipeline_version,"
            " from_version, from_outcome, to_outcome)"
            " SELECT id, $2, $3, $4, $5, $6, $7, owner, source, segment, $8, pipeline, $9, $10,"
            " $11, $12 FROM leads WHERE id = $1",
            lead_id,
            change.from_status,
            change.to_status,
            change.reason,
            change.reopened,
            competitor,
            revisit_at,
            at,
            change.pipeline_version,
            change.from_version,
            change.from_outcome.value,
            change.to_outcome.value,
        )


async def _insert_lead(
    conn: asyncpg.Connection, workflow: Workflow, email: str, created_at: datetime, **dims: Any
) -> int:
    lead_id: int = await conn.fetchval(
        "INSERT INTO leads (email, owner, source, segment, created_at, updated_at, pipeline,"
        " pipeline_version, status) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8) RETURNING id",
        email,
        dims.get("owner"),
        dims.get("source"),
        dims.get("segment"),
        created_at,
        workflow.pipeline,
        workflow.version,
        workflow.initial,
    )
    return lead_id


@dataclass(frozen=True)
class Path:
    """One pipeline's names for a deal that is worked, lost, reopened and won."""

    first: tuple[str, str]
    second: tuple[str, str]
    lost: tuple[str, str]
    reopen: str
    won: tuple[str, str]
    second_stage: int
    """The stage number of `second`."""


PATHS = {
    DEFAULT_PIPELINE: Path(
        ("contacted", "call_connected"),
        ("qualified", "need_confirmed"),
        ("lost", "competitor"),
        "competitor_failed",
        ("won", "contract_signed"),
        3,
    ),
    ENTERPRISE: Path(
        ("discovery", "call_held"),
        ("proposal", "proposal_sent"),
        ("lost_to_competitor", "chose_competitor"),
        "budget_approved",
        ("closed_won_upsell", "expansion_signed"),
        4,
    ),
}


async def _workflow(pool: asyncpg.Pool, workflows: Workflows, pipeline: str) -> Workflow:
    if pipeline != DEFAULT_PIPELINE:
        return await define_enterprise(pool, workflows)
    return await workflows.current(pipeline)


@pytest.mark.parametrize("pipeline", PATHS)
async def test_history_written_at_past_times_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows, pipeline: str
) -> None:
    """Created 10 days ago, worked 8 and 7, lost 5, reopened 3, won 1 day ago."""
    workflow = await _workflow(pool, workflows, pipeline)
    path = PATHS[pipeline]
    dims = {"owner": "alex", "source": "web", "segment": "smb"}
    async with pool.acquire() as conn:
        lead_id = await _insert_lead(conn, workflow, "past@example.com", days_ago(10, 9), **dims)
        await _record_by_sql(conn, workflow, lead_id, *path.first, days_ago(8))
        await _record_by_sql(conn, workflow, lead_id, *path.second, days_ago(7))
        await conn.execute("UPDATE leads SET owner = 'sam' WHERE id = $1", lead_id)
        await _record_by_sql(conn, workflow, lead_id, *path.lost, days_ago(5), competitor="Globex")
        await _record_by_sql(
            conn, workflow, lead_id, path.second[0], path.reopen, days_ago(3), reopen=True
        )
        await conn.execute("UPDATE leads SET owner = 'kim' WHERE id = $1", lead_id)
        await _record_by_sql(conn, workflow, lead_id, *path.won, days_ago(1))
    snap = await assert_rollups_exact(pool)

    daily = snap["metrics_daily"]
    # The cohort counts where the lead is now: its creation day, its current owner.
    cohort = daily[(days_ago(10).date(), pipeline, "kim", "web", "smb")]
    second = path.second_stage
    assert _nonzero(cohort) == {
        "created": 1,
        "won_now": 1,
        "reached_2": 1,
        f"reached_{second}": 1,
        "went_on_1": 1,
        "went_on_2": 1,
        f"went_on_{second}": 1,
    }
    # Changes count for the owner recorded on them; the loss is no longer the latest closing.
    assert _nonzero(daily[(days_ago(3).date(), pipeline, "sam", "web", "smb")]) == {
        "reopened": 1,
        "reopened_won": 1,
    }
    assert _nonzero(daily[(days_ago(1).date(), pipeline, "kim", "web", "smb")]) == {"closed_won": 1}
    assert set(daily) == {
        (days_ago(10).date(), pipeline, "kim", "web", "smb"),
        (days_ago(3).date(), pipeline, "sam", "web", "smb"),
        (days_ago(1).date(), pipeline, "kim", "web", "smb"),
    }
    loss = ("lost", path.lost[1], path.second[0], "Globex")
    assert snap["metrics_losses"] == {
        (False, days_ago(5).date(), pipeline, "sam", "web", "smb", *loss): {"n": 1},
        (True, days_ago(5).date(), pipeline, None, None, None, *loss): {"n": 1},
    }
    stays = {
        (k[2], k[3], k[6]): v["n"]
        for k, v in snap["metrics_durations"].items()
        if k[:2] == ("stay", "all")
    }
    assert stays == {
        (workflow.initial, days_ago(8).date(), 2): 1,  # 09:00 ten days ago to noon eight days ago
        (path.first[0], days_ago(7).date(), 1): 1,
        (path.second[0], days_ago(5).date(), 2): 1,
        (path.second[0], days_ago(1).date(), 2): 1,
    }
    cycle = ("cycle", "owner", "won", days_ago(1).date(), pipeline, "kim", 9)
    assert snap["metrics_durations"][cycle] == {"n": 1}
    assert snap["metrics_pipeline"] == {
        (pipeline, path.won[0], "kim", "web", "smb", None): {"n": 1}
    }


@pytest.mark.parametrize("pipeline", [DEFAULT_PIPELINE, ENTERPRISE])
async def test_random_history_over_months_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows, pipeline: str
) -> None:
    """200 leads over 200 days: reassignments, corrected sources, creation times set afterwards;
    on the custom pipeline, then an edit remapping the leads of two statuses it removes."""
    await _workflow(pool, workflows, pipeline)
    await write_history(
        pool, workflows, leads=200, seed=11, now=datetime.now(UTC), pipeline=pipeline
    )
    if pipeline == ENTERPRISE:
        await write_history(
            pool, workflows, leads=30, seed=12, now=datetime.now(UTC), pipeline=pipeline, days=20
        )
        moved = await edit_enterprise_with_remap(pool, workflows)
        assert all(moved.values()), moved
    snap = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, snap)
    assert len({k[0] for k in snap["metrics_daily"]}) > 60
    assert total(snap, "metrics_daily", "reopened_won") > 0


async def test_a_remap_moves_the_standing_and_ends_a_stay_but_closes_nothing(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """A lead lost to a competitor and one in a proof of concept, when an edit removes both
    statuses: the lost one stays closed as it was (its day, its loss), the open one's stay ends;
    both stand in their new statuses."""
    workflow = await define_enterprise(pool, workflows)
    dims = {"owner": "alex", "source": "web", "segment": "smb"}
    async with pool.acquire() as conn:
        lost = await _insert_lead(conn, workflow, "lost@example.com", days_ago(9, 9), **dims)
        await _record_by_sql(conn, workflow, lost, "discovery", "call_held", days_ago(8))
        await _record_by_sql(conn, workflow, lost, "proof_of_concept", "poc_agreed", days_ago(7))
        await _record_by_sql(
            conn,
            workflow,
            lost,
            "lost_to_competitor",
            "chose_competitor",
            days_ago(6),
            competitor="Globex",
        )
        poc = await _insert_lead(conn, workflow, "poc@example.com", days_ago(4, 9), **dims)
        await _record_by_sql(conn, workflow, poc, "discovery", "call_held", days_ago(3))
        await _record_by_sql(conn, workflow, poc, "proof_of_concept", "poc_agreed", days_ago(2))
    before = await assert_rollups_exact(pool)
    assert await edit_enterprise_with_remap(pool, workflows) == {
        "proof_of_concept": 1,
        "lost_to_competitor": 1,
    }
    after = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, after)
    today = datetime.now(UTC).date()
    days = (datetime.now(UTC) - days_ago(2)) // timedelta(days=1)
    assert after["metrics_pipeline"] == {
        (ENTERPRISE, "closed_lost", "alex", "web", "smb", None): {"n": 1},
        (ENTERPRISE, "discovery", "alex", "web", "smb", None): {"n": 1},
    }
    # Closings, losses and cycle times are as they were; the creation counts too (a remap to
    # discovery holds a stage already held).
    assert after["metrics_daily"] == before["metrics_daily"]
    assert after["metrics_losses"] == before["metrics_losses"]
    # The stay in the proof of concept ended today (two days); nothing else was added.
    added = {
        k: v["n"] - before["metrics_durations"].get(k, {"n": 0})["n"]
        for k, v in after["metrics_durations"].items()
        if v != before["metrics_durations"].get(k)
    }
    assert added == {
        ("stay", dimension, "proof_of_concept", today, ENTERPRISE, value, days): 1
        for dimension, value in (
            ("all", None),
            ("owner", "alex"),
            ("source", "web"),
            ("segment", "smb"),
        )
    }


async def test_several_changes_in_one_insert_statement(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """A history appended by multi-row INSERTs (as a load without 'off' would).

    The first changes were sam's, before the lead went to alex (the edit below, as a PATCH
    would make it): each change counts for the owner recorded on it, the cohort and the
    pipeline for the lead's owner now.
    """
    workflow = await workflows.current(DEFAULT_PIPELINE)
    async with pool.acquire() as conn:
        lead_id = await _insert_lead(conn, workflow, "bulk@example.com", days_ago(20), owner="sam")
        columns = (
            "(lead_id, from_status, to_status, reason, reopened, owner, at, from_outcome,"
            " to_outcome)"
        )
        await conn.execute(
            f"INSERT INTO lead_status_changes {columns} VALUES"
            " ($1, 'new', 'qualified', 'need_confirmed', false, 'sam', $2, 'open', 'open'),"
            " ($1, 'qualified', 'no_decision', 'postponed', false, 'sam', $3, 'open',"
            " 'no_decision')",
            lead_id,
            days_ago(18),
            days_ago(15),
        )
        await conn.execute(
            "UPDATE leads SET status = 'no_decision', outcome = 'no_decision', version = 3"
            " WHERE id = $1",
            lead_id,
        )
        await conn.execute("UPDATE leads SET owner = 'alex' WHERE id = $1", lead_id)
        await conn.execute(
            f"INSERT INTO lead_status_changes {columns} VALUES"
            " ($1, 'no_decision', 'negotiating', 'budget_approved', true, 'alex', $2,"
            " 'no_decision', 'open'),"
            " ($1, 'negotiating', 'qualified', 'scope_changed', false, 'alex', $3, 'open', 'open'),"
            " ($1, 'qualified', 'won', 'contract_signed', false, 'alex', $4, 'open', 'won')",
            lead_id,
            days_ago(9),
            days_ago(6),
            days_ago(2),
        )
        # The lead's own row catches up with its history, as the service's statement does.
        await conn.execute(
            "UPDATE leads SET status = 'won', outcome = 'won', status_reason = 'contract_signed',"
            " version = 6, reopen_count = 1, closed_at = $2 WHERE id = $1",
            lead_id,
            days_ago(2),
        )
    snap = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, snap)
    daily = {k: _nonzero(v) for k, v in snap["metrics_daily"].items()}
    assert daily == {
        (days_ago(20).date(), "default", "alex", None, None): {
            "created": 1,
            "won_now": 1,
            "reached_3": 1,
            "reached_4": 1,
            "went_on_1": 1,
            "went_on_3": 1,
            "went_on_4": 1,
        },
        # sam's no-decision on day -15 is no longer the latest closing: no row is left there.
        (days_ago(9).date(), "default", "alex", None, None): {"reopened": 1, "reopened_won": 1},
        (days_ago(2).date(), "default", "alex", None, None): {"closed_won": 1},
    }
    loss = ("no_decision", "postponed", "qualified", None)
    assert snap["metrics_losses"] == {
        (False, days_ago(15).date(), "default", "sam", None, None, *loss): {"n": 1},
        (True, days_ago(15).date(), "default", None, None, None, *loss): {"n": 1},
    }


# --- concurrency ----------------------------------------------------------------------------

SAME = {"owner": "alex", "source": "web", "segment": "smb"}


async def _create(pool: asyncpg.Pool, workflows: Workflows, email: str) -> int:
    row = await service.create_lead(
        pool, workflows, fields={"email": email, "attributes": {}, **SAME}
    )
    lead_id: int = row["id"]
    return lead_id


async def _move(
    pool: asyncpg.Pool, workflows: Workflows, lead_id: int, path: Sequence[tuple[str, str]]
) -> None:
    for to, reason in path:
        details = ChangeDetails(competitor="Globex") if reason == "competitor" else ChangeDetails()
        await service.transition_lead(
            pool, workflows, lead_id=lead_id, to=to, reason=reason, details=details
        )


async def _lead_at(
    pool: asyncpg.Pool, workflows: Workflows, email: str, path: Sequence[tuple[str, str]]
) -> int:
    lead_id = await _create(pool, workflows, email)
    await _move(pool, workflows, lead_id, path)
    return lead_id


async def test_concurrent_changes_on_the_same_rollup_rows(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Creates, transitions, reopenings and edits at once, all on one owner, source and segment."""
    revisit = datetime.now(UTC) + timedelta(days=45)
    closings = [
        ("won", "contract_signed", ChangeDetails()),
        ("lost", "price", ChangeDetails()),
        ("no_decision", "postponed", ChangeDetails(revisit_at=revisit)),
        ("recycled", "nurture", ChangeDetails(revisit_at=revisit)),
        ("negotiating", "proposal_sent", ChangeDetails()),
    ]
    for round_ in range(3):
        tag = f"r{round_}"
        qualified = [await _create(pool, workflows, f"{tag}q{i}@example.com") for i in range(8)]
        lost = [await _create(pool, workflows, f"{tag}l{i}@example.com") for i in range(6)]
        contested = await _create(pool, workflows, f"{tag}c@example.com")
        # Creation days spread out (set before any history, as a load would): a change then
        # also touches its lead's cohort row of another day.
        await pool.execute(
            "UPDATE leads SET created_at = now() - (id % 4) * interval '1 day'"
            " WHERE id = ANY($1::bigint[])",
            [*qualified, *lost],
        )
        for lead_id in qualified:
            await _move(pool, workflows, lead_id, [("qualified", "need_confirmed")])
        for lead_id in lost:
            await _move(
                pool,
                workflows,
                lead_id,
                [("qualified", "budget_confirmed"), ("lost", "competitor")],
            )
        await _move(pool, workflows, contested, [("contacted", "call_connected")])

        expected = [
            *(
                service.create_lead(
                    pool,
                    workflows,
                    fields={"email": f"{tag}n{i}@example.com", "attributes": {}, **SAME},
                )
                for i in range(8)
            ),
            *(
                service.transition_lead(
                    pool, workflows, lead_id=lead_id, to=to, reason=reason, details=details
                )
                for lead_id, (to, reason, details) in zip(qualified, closings * 2, strict=False)
            ),
            *(
                service.reopen_lead(
                    pool,
                    workflows,
                    lead_id=lead_id,
                    reason="competitor_failed",
                    to=None,
                    details=ChangeDetails(),
                )
                for lead_id in lost[:4]
            ),
            *(  # edits racing a transition (qualified[0]) and a reopening (lost[3]) of one lead
                service.update_lead(
                    pool, lead_id=lead_id, changes={"segment": "enterprise"}, if_match=None
                )
                for lead_id in (*lost[3:], qualified[0])
            ),
        ]
        contested_moves = [
            service.transition_lead(
                pool, workflows, lead_id=contested, to=to, reason=reason, details=ChangeDetails()
            )
            for to, reason in [("qualified", "need_confirmed"), ("dead", "unreachable")] * 3
        ]
        results = await asyncio.gather(*expected, *contested_moves, return_exceptions=True)
        assert len(results) >= 30
        done, raced = results[: len(expected)], results[len(expected) :]
        failures = [r for r in done if isinstance(r, BaseException)]
        assert not failures, failures
        assert sum(not isinstance(r, BaseException) for r in raced) == 1, raced
        assert all(
            isinstance(r, TransitionNotAllowed | ConcurrentChange)
            for r in raced
            if isinstance(r, BaseException)
        ), raced
        snap = await assert_rollups_exact(pool)
        await assert_totals_match_history(pool, snap)
    assert total(snap, "metrics_daily", "created") == 3 * 23
    assert total(snap, "metrics_daily", "reopened") == 3 * 4


async def _lock_waiters(conn: asyncpg.Connection, at_least: int) -> None:
    """Wait until `at_least` sessions of this database wait for a lock."""
    for _ in range(500):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} sessions ever waited for a lock")


async def test_writers_never_wait_for_rollup_rows(
    pool: asyncpg.Pool, workflows: Workflows, own_connection: asyncpg.Connection
) -> None:
    """Status changes append deltas; a session holding every rollup row does not slow them.

    Both leads were created three days ago; winning one and reopening the other each touch the
    cohort row of that day and the activity row of today. Another session locks those rows (as
    a fold does while it adds to them): the changes must finish while it still holds them.
    """
    created = days_ago(3)
    for round_ in range(3):
        winner = await _create(pool, workflows, f"k{round_}w@example.com")
        reopened = await _create(pool, workflows, f"k{round_}r@example.com")
        await pool.execute(
            "UPDATE leads SET created_at = $2 WHERE id = ANY($1::bigint[])",
            [winner, reopened],
            created,
        )
        await _move(pool, workflows, winner, [("qualified", "need_confirmed")])
        await _move(
            pool, workflows, reopened, [("qualified", "need_confirmed"), ("lost", "competitor")]
        )
        await pool.execute("SELECT metrics_fold()")
        async with own_connection.transaction():
            held = await own_connection.fetch(
                "SELECT day FROM metrics_daily WHERE (owner, source, segment) = ($1, $2, $3)"
                " ORDER BY day FOR UPDATE",
                *SAME.values(),
            )
            assert [r["day"] for r in held] == [created.date(), datetime.now(UTC).date()]
            changes = asyncio.gather(
                service.transition_lead(
                    pool,
                    workflows,
                    lead_id=winner,
                    to="won",
                    reason="contract_signed",
                    details=ChangeDetails(),
                ),
                service.reopen_lead(
                    pool,
                    workflows,
                    lead_id=reopened,
                    reason="competitor_failed",
                    to="negotiating",
                    details=ChangeDetails(),
                ),
            )
            await asyncio.wait_for(changes, timeout=10)
    snap = await assert_rollups_exact(pool)
    assert total(snap, "metrics_daily", "reopened_won") == 0
    assert total(snap, "metrics_daily", "reached_4") == 3


async def test_rebuild_while_the_service_writes_does_not_deadlock(
    pool: asyncpg.Pool, workflows: Workflows, own_connection: asyncpg.Connection
) -> None:
    lead_id = await _lead_at(
        pool, workflows, "nurture@example.com", [("qualified", "need_confirmed")]
    )
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="no_decision",
        reason="postponed",
        details=ChangeDetails(revisit_at=_in_months(1)),
    )
    writer = own_connection
    failures: list[BaseException] = []
    async with writer.transaction():
        # A writer has adjusted metrics_pipeline (a revisit date moved to another month) ...
        await writer.execute(
            "UPDATE leads SET revisit_at = $2 WHERE id = $1", lead_id, _in_months(4)
        )
        rebuild = asyncio.ensure_future(pool.execute("SELECT metrics_rebuild()"))
        await _lock_waiters(writer, 1)
        # ... and, while a rebuild waits for it, goes on to a change that counts in metrics_daily.
        try:
            await writer.execute(
                "INSERT INTO leads (email, owner) VALUES ('second@example.com', 'alex')"
            )
        except asyncpg.DeadlockDetectedError as e:
            failures.append(e)
    try:
        await rebuild
    except asyncpg.DeadlockDetectedError as e:
        failures.append(e)
    assert not failures, failures
    await assert_rollups_exact(pool)


# --- switching maintenance off --------------------------------------------------------------


async def test_rollups_off_skips_maintenance_until_rebuilt(
    pool: asyncpg.Pool, workflows: Workflows, own_connection: asyncpg.Connection
) -> None:
    kept = await _lead_at(pool, workflows, "kept@example.com", [("contacted", "call_connected")])
    before = await assert_rollups_exact(pool)

    conn = own_connection
    await conn.execute("SET leadstatus.rollups = 'off'")
    repo = LeadRepository(conn)
    workflow = await workflows.current(DEFAULT_PIPELINE)
    fresh = await repo.insert({"email": "quiet@example.com", "attributes": {}, **SAME}, workflow)
    assert fresh is not None
    for lead_id, to, reason in [
        (fresh["id"], "qualified", "need_confirmed"),
        (fresh["id"], "lost", "price"),
        (kept, "qualified", "budget_confirmed"),
    ]:
        row = await repo.get(lead_id)
        lead = to_domain(row)
        change = lead.transition(workflow, to, reason, now=datetime.now(UTC))
        assert await repo.record_change(lead_id, lead, change) is not None
    await repo.update_fields(kept, {"owner": "kim"}, expected_version=None)
    assert await snapshot(conn) == before, "with rollups off, nothing may be maintained"

    # The setting belongs to that session: a create elsewhere is still counted.
    await service.create_lead(
        pool, workflows, fields={"email": "loud@example.com", "attributes": {}, **SAME}
    )
    counted = await snapshot(pool)
    assert (
        total(counted, "metrics_daily", "created") == total(before, "metrics_daily", "created") + 1
    )

    maintained, rebuilt = await rebuild_and_compare(pool)
    assert maintained == counted
    lines = diff(maintained, rebuilt)
    assert lines, "the rebuild should see what maintenance skipped"
    assert total(rebuilt, "metrics_daily", "created") == 3
    assert total(rebuilt, "metrics_daily", "closed_lost") == 1
    assert total(rebuilt, "metrics_losses", "n", overall=False) == 1
    assert total(rebuilt, "metrics_daily", "reached_3", owner="kim") == 1

    # After the rebuild, maintenance (on again) carries on from exact rollups.
    await conn.execute("RESET leadstatus.rollups")
    async with conn.transaction():
        await conn.execute("SET LOCAL leadstatus.rollups = 'off'")
        await repo.update_fields(fresh["id"], {"source": "event"}, expected_version=None)
    await repo.update_fields(kept, {"source": "referral"}, expected_version=None)
    lines = diff(*await rebuild_and_compare(pool))
    # Only the edit made with SET LOCAL was missed: its lead's cohort and standing rows.
    assert [line.split(" [")[0] for line in lines] == [
        *["metrics_daily"] * 2,
        *["metrics_pipeline"] * 2,
    ], lines
    assert all("source='event'" in line or "source='web'" in line for line in lines), lines
    await service.reopen_lead(
        pool,
        workflows,
        lead_id=fresh["id"],
        reason="timing_right",
        to=None,
        details=ChangeDetails(),
    )
    await assert_rollups_exact(pool)


# --- edge cases -----------------------------------------------------------------------------


async def test_deleting_a_lead_without_history_leaves_its_cohort(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    a = await _lead_at(pool, workflows, "a@example.com", [])
    b = await _lead_at(pool, workflows, "b@example.com", [("contacted", "call_connected")])
    today = datetime.now(UTC).date()
    key = (today, "default", "alex", "web", "smb")
    before = await assert_rollups_exact(pool)
    assert before["metrics_daily"][key]["created"] == 2
    assert before["metrics_pipeline"][("default", "new", "alex", "web", "smb", None)] == {"n": 1}

    # A lead with history cannot go (the history keeps it); the failed delete changes nothing.
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):  # 23503, or 23001 on PG 18
        await pool.execute("DELETE FROM leads WHERE id = $1", b)
    assert await snapshot(pool) == before

    await pool.execute("DELETE FROM leads WHERE id = $1", a)
    after = await assert_rollups_exact(pool)
    assert after["metrics_daily"][key]["created"] == 1
    assert after["metrics_daily"][key]["reached_2"] == 1
    assert ("default", "new", "alex", "web", "smb", None) not in after["metrics_pipeline"]
    assert after["metrics_pipeline"][("default", "contacted", "alex", "web", "smb", None)] == {
        "n": 1
    }


async def test_reassigning_a_lead_moves_its_cohort_not_its_changes(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    lead_id = await _lead_at(
        pool,
        workflows,
        "deal@example.com",
        [
            ("contacted", "meeting_booked"),
            ("qualified", "need_confirmed"),
            ("negotiating", "proposal_sent"),
        ],
    )
    today = datetime.now(UTC).date()
    alex, kim = (today, "default", "alex", "web", "smb"), (today, "default", "kim", "web", "smb")
    cohort = {
        "created": 1,
        "reached_2": 1,
        "reached_3": 1,
        "reached_4": 1,
        "went_on_1": 1,
        "went_on_2": 1,
        "went_on_3": 1,
    }
    before = await assert_rollups_exact(pool)
    assert _nonzero(before["metrics_daily"][alex]) == cohort

    await service.update_lead(pool, lead_id=lead_id, changes={"owner": "kim"}, if_match=None)
    moved = await assert_rollups_exact(pool)
    assert alex not in moved["metrics_daily"]
    assert _nonzero(moved["metrics_daily"][kim]) == cohort
    assert moved["metrics_pipeline"] == {
        ("default", "negotiating", "kim", "web", "smb", None): {"n": 1}
    }
    # The stays already recorded keep the owner they were recorded with.
    assert total(moved, "metrics_durations", "n", measure="stay", dimension="owner") == 3
    assert total(moved, "metrics_durations", "n", dimension="owner", value="kim") == 0

    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="won",
        reason="contract_signed",
        details=ChangeDetails(),
    )
    await service.update_lead(
        pool, lead_id=lead_id, changes={"owner": None, "segment": None}, if_match=None
    )
    closed = await assert_rollups_exact(pool)
    assert _nonzero(closed["metrics_daily"][kim]) == {"closed_won": 1}
    assert _nonzero(closed["metrics_daily"][(today, "default", None, "web", None)]) == {
        **cohort,
        "won_now": 1,
        "went_on_4": 1,
    }
    assert closed["metrics_pipeline"] == {("default", "won", None, "web", None, None): {"n": 1}}


def _month(at: datetime) -> date:
    return at.astimezone(UTC).date().replace(day=1)


def _in_months(months: int) -> datetime:
    """Midday on the 15th, `months` calendar months from now."""
    now = datetime.now(UTC)
    year, month = divmod(now.month - 1 + months, 12)
    return datetime(now.year + year, month + 1, 15, 12, tzinfo=UTC)


async def test_revisit_date_in_another_month_moves_the_pipeline_row(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    lead_id = await _lead_at(
        pool, workflows, "later@example.com", [("qualified", "timeline_confirmed")]
    )
    first, second, third = _in_months(1), _in_months(3), _in_months(7)
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="lost",
        reason="timing",
        details=ChangeDetails(revisit_at=first),
    )
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "lost", "alex", "web", "smb", _month(first)): {"n": 1}
    }

    await service.reopen_lead(
        pool, workflows, lead_id=lead_id, reason="timing_right", to=None, details=ChangeDetails()
    )
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="recycled",
        reason="budget_next_cycle",
        details=ChangeDetails(revisit_at=second),
    )
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "recycled", "alex", "web", "smb", _month(second)): {"n": 1}
    }

    # Postponed by hand: a later day of the same month keeps the row, another month moves it.
    await pool.execute(
        "UPDATE leads SET revisit_at = revisit_at + interval '3 days' WHERE id = $1", lead_id
    )
    assert (await assert_rollups_exact(pool))["metrics_pipeline"] == snap["metrics_pipeline"]
    await pool.execute("UPDATE leads SET revisit_at = $2 WHERE id = $1", lead_id, third)
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "recycled", "alex", "web", "smb", _month(third)): {"n": 1}
    }
    await pool.execute("UPDATE leads SET revisit_at = NULL WHERE id = $1", lead_id)
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "recycled", "alex", "web", "smb", None): {"n": 1}
    }


async def test_creation_time_is_fixed_once_a_lead_has_history(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Durations were measured from it: moving it under the history is refused, nothing moves."""
    async with pool.acquire() as conn:
        workflow = await workflows.current(DEFAULT_PIPELINE)
        lead_id = await _insert_lead(
            conn, workflow, "early@example.com", days_ago(10), owner="alex"
        )
        await _record_by_sql(conn, workflow, lead_id, "qualified", "need_confirmed", days_ago(8))
        await _record_by_sql(conn, workflow, lead_id, "won", "online_checkout", days_ago(6))
        with pytest.raises(asyncpg.CheckViolationError, match="creation time"):
            await conn.execute(
                "UPDATE leads SET created_at = $2 WHERE id = $1", lead_id, days_ago(30)
            )
        created = await conn.fetchval("SELECT created_at FROM leads WHERE id = $1", lead_id)
    assert created == days_ago(10)
    await assert_rollups_exact(pool)


async def test_folds_running_at_once_move_each_pending_row_once(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Every service process folds on its own timer: folds that meet must not double count."""
    for i in range(12):
        await _lead_at(pool, workflows, f"fold{i}@example.com", [("qualified", "need_confirmed")])
    for i in range(6):
        await _lead_at(
            pool,
            workflows,
            f"lost{i}@example.com",
            [("qualified", "budget_confirmed"), ("lost", "price")],
        )
    pending = await pool.fetchval(
        "SELECT (SELECT count(*) FROM metrics_pending_changes)"
        " + (SELECT count(*) FROM metrics_pending_leads) + (SELECT count(*) FROM metrics_pending)"
    )
    assert pending >= 18 + 24

    async def fold() -> int:
        async with pool.acquire() as conn:
            moved: int = await conn.fetchval("SELECT metrics_fold()")
            return moved

    moved = await asyncio.gather(*(fold() for _ in range(6)))
    assert sum(moved) == pending
    snap = await assert_rollups_exact(pool)
    assert total(snap, "metrics_daily", "closed_lost") == 6


async def _pending_leads_pages(pool: asyncpg.Pool) -> int:
    pages: int = await pool.fetchval(
        "SELECT pg_relation_size('metrics_pending_leads') / current_setting('block_size')::int"
    )
    return pages


async def _new_leads_folded(pool: asyncpg.Pool, count: int) -> None:
    """`count` new leads, each leaving a pending row that a fold then deletes (a dead row)."""
    await pool.execute(
        "INSERT INTO leads (email)"
        " SELECT 'vac' || i || '@example.com' FROM generate_series(1, $1) i",
        count,
    )
    await pool.fetchval("SELECT metrics_fold()")
    assert await pool.fetchval("SELECT count(*) FROM metrics_pending_leads") == 0


async def test_vacuuming_the_churning_tables_reclaims_what_the_folds_left(
    pool: asyncpg.Pool,
    workflows: Workflows,
) -> None:
    await _new_leads_folded(pool, 2_000)
    assert await _pending_leads_pages(pool) > 0  # the deleted rows still take their pages
    async with pool.acquire() as conn:
        await vacuum_churning_tables(conn)
    assert await _pending_leads_pages(pool) == 0
    await assert_rollups_exact(pool)


@pytest.mark.parametrize("vacuum_every", [0.05, 0])
async def test_the_fold_loop_vacuums_the_churning_tables_when_asked(
    pool: asyncpg.Pool, workflows: Workflows, vacuum_every: float
) -> None:
    await _new_leads_folded(pool, 2_000)
    loop = asyncio.create_task(fold_forever(pool, 0.01, vacuum_every))
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await _pending_leads_pages(pool) == 0:
                break
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert (await _pending_leads_pages(pool) == 0) == bool(vacuum_every)
