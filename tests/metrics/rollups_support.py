"""What the rollup tests share: snapshots, the exactness check, and ways to write leads.

The rollups the triggers maintain are exact: each equals `metrics_rebuild()`'s recomputation.
Every test drives writes (through the use cases, the repository or plain SQL), snapshots the six
rollup tables, rebuilds them from the history with `SELECT metrics_rebuild()`, snapshots again and
compares (`assert_rollups_exact`). Rows whose counts are all zero are dropped first: incremental
maintenance leaves them behind where a rebuild creates nothing. Totals are also checked against
the history itself (`assert_totals_match_history`), so a mistake shared by the triggers and the
rebuild cannot hide behind their agreement.

The tests are split by concern: `test_rollups_workload` (random use-case workloads, default and
custom pipelines), `test_rollups_history` (history written at chosen times), `test_rollups_edits`
(edits and deletes of leads), `test_rollups_concurrency` (writers at once), `test_rollups_fold`
(folds at once, vacuuming what they leave) and `test_rollups_rebuild` (maintenance switched off,
a rebuild amid writes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from app.leads import service
from app.leads.domain import ChangeDetails
from app.leads.repository import to_domain
from app.pipelines.cache import Workflows
from app.pipelines.workflow import REMAP_REASON, Outcome, Workflow
from tests.metrics.metrics_history import stage_lists

Key = tuple[Any, ...]
Snapshot = dict[str, dict[Key, dict[str, int]]]


DAILY_KEY = ("day", "pipeline", "owner", "source", "segment")
KEYS: dict[str, tuple[str, ...]] = {
    "metrics_cohorts": ("grain", *DAILY_KEY, "stages"),
    "metrics_closings": ("grain", *DAILY_KEY, "outcome"),
    "metrics_revenue": ("grain", *DAILY_KEY, "outcome", "currency"),
    "metrics_reopenings": ("grain", *DAILY_KEY),
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
        "currency",
    ),
    "metrics_pipeline": ("pipeline", "status", "owner", "source", "segment", "revisit_month"),
    "metrics_open_money": (
        "pipeline",
        "status",
        "owner",
        "source",
        "segment",
        "currency",
        "close_month",
    ),
}
"""Each rollup table's key columns (its unique index's); every other column is a count or a sum
of amounts."""
DAILY = "daily"
"""Not a table: the three per-day rollups read as one row per day and key with a count per
funnel stage and closing outcome (`daily_counts`), the figures the tests state."""


_UNIQUE_KEYS = """
SELECT array_agg(a.attname::text ORDER BY k.ord)
  FROM pg_index i
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = $1::regclass AND i.indisunique AND k.ord <= i.indnkeyatts
 GROUP BY i.indexrelid
"""
DIMS = ("owner", "source", "segment")
CLOSING = [o.value for o in Outcome if o is not Outcome.OPEN]
STAGES = 12
WON_BIT = 1 << STAGES


GRAINED = ("metrics_cohorts", "metrics_closings", "metrics_reopenings", "metrics_revenue")
"""The per-day rollups, each count kept under its full key, under each dimension and overall."""
GRAIN_DIMS = {"full": DIMS, "owner": ("owner",), "source": ("source",), "segment": ("segment",)}


def assert_grains_agree(tables: Snapshot) -> None:
    """Every coarser grain of a per-day rollup holds exactly its full-grain rows summed over the
    dimensions it leaves out."""
    for table in GRAINED:
        key = KEYS[table]
        by_grain: dict[str, dict[Key, Counter[str]]] = {}
        for k, counts in tables[table].items():
            by_grain.setdefault(k[0], {})[k] = Counter(counts)
        expected: dict[str, dict[Key, Counter[str]]] = {}
        for k, counts in by_grain.get("full", {}).items():
            for grain in ("owner", "source", "segment", "all"):
                kept = GRAIN_DIMS.get(grain, ())
                coarse = tuple(
                    grain if c == "grain" else None if c in DIMS and c not in kept else v
                    for c, v in zip(key, k, strict=True)
                )
                expected.setdefault(grain, {}).setdefault(coarse, Counter()).update(counts)
        for grain in ("owner", "source", "segment", "all"):
            want = {k: nonzero(c) for k, c in expected.get(grain, {}).items() if any(c.values())}
            got = {k: nonzero(c) for k, c in by_grain.get(grain, {}).items()}
            assert got == want, f"{table}: the {grain} grain is not the full grain summed"


def daily_counts(tables: Snapshot) -> dict[Key, dict[str, int]]:
    """Per day and key (the full grain): leads created, won now, reached and went on from each
    stage (bit i - 1 of a cohort's `stages` is stage i; a stage is gone on from when a higher
    bit is set too), latest closings by outcome, reopenings and those of leads now won."""
    daily: dict[Key, Counter[str]] = {}

    def row(key: Key) -> Counter[str]:
        return daily.setdefault(key[1:], Counter())

    full = {t: {k: v for k, v in tables[t].items() if k[0] == "full"} for t in GRAINED}
    for key, counts in full["metrics_cohorts"].items():
        stages, n, counted = key[-1], counts["n"], row(key[:-1])
        counted["created"] += n
        counted["won_now"] += n if stages & WON_BIT else 0
        for i in range(1, STAGES + 1):
            if stages & (1 << (i - 1)):
                if i > 1:
                    counted[f"reached_{i}"] += n
                if stages >= 1 << i:
                    counted[f"went_on_{i}"] += n
    for key, counts in full["metrics_closings"].items():
        row(key[:-1])[f"closed_{key[-1]}"] += counts["n"]
    for key, counts in full["metrics_reopenings"].items():
        row(key)["reopened"] += counts["n"]
        row(key)["reopened_won"] += counts["won"]
    columns = (
        "created",
        "won_now",
        *(f"reached_{i}" for i in range(2, STAGES + 1)),
        *(f"went_on_{i}" for i in range(1, STAGES + 1)),
        *(f"closed_{o}" for o in CLOSING),
        "reopened",
        "reopened_won",
    )
    return {
        key: {c: counted[c] for c in columns}
        for key, counted in daily.items()
        if any(counted.values())
    }


async def _read(
    conn: asyncpg.Connection | asyncpg.Pool, table: str, key: tuple[str, ...], query: str
) -> dict[Key, dict[str, int]]:
    rows: dict[Key, dict[str, int]] = {}
    seen: set[Key] = set()
    for row in await conn.fetch(query):
        k = tuple(row[c] for c in key)
        counts = {c: v for c, v in row.items() if c not in key}
        assert counts and all(type(v) in (int, Decimal) for v in counts.values()), (table, counts)
        assert k not in seen, f"{table} holds key {k} twice"
        seen.add(k)
        if any(counts.values()):
            rows[k] = counts
    return rows


async def snapshot(conn: asyncpg.Connection | asyncpg.Pool) -> Snapshot:
    """The eight rollups as {table: {key: {count column: value}}}, all-zero rows dropped, and
    their per-day figures under `DAILY`.

    Read first as the metrics read them (rollup plus pending deltas, `<table>_now`), then
    folded: the rollup tables alone must then hold exactly that, each key once.
    """
    tables: Snapshot = {}
    for table, key in KEYS.items():
        unique = [list(r[0]) for r in await conn.fetch(_UNIQUE_KEYS, table)]
        assert unique == [list(key)], f"{table}: keyed by {unique}, this test expects {key}"
        counts = {
            r["column_name"]: "numeric" if r["data_type"] == "numeric" else "integer"
            for r in await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_name = $1 ORDER BY ordinal_position",
                table,
            )
            if r["column_name"] not in key
        }
        keys = ", ".join(key)
        sums = ", ".join(f"sum({c})::{kind} AS {c}" for c, kind in counts.items())
        tables[table] = await _read(
            conn, table, key, f"SELECT {keys}, {sums} FROM {table}_now GROUP BY {keys}"
        )
    await conn.execute("SELECT metrics_fold()")
    for table, key in KEYS.items():
        folded = await _read(conn, table, key, f"SELECT * FROM {table}")
        assert folded == tables[table], f"{table}: folding changed what the metrics read"
    assert_grains_agree(tables)
    tables[DAILY] = daily_counts(tables)
    return tables


def _show_key(table: str, key: Key) -> str:
    def show(v: Any) -> str:
        return v.isoformat() if isinstance(v, date) else repr(v)

    return ", ".join(f"{c}={show(v)}" for c, v in zip(_key_of(table), key, strict=True))


def _key_of(table: str) -> tuple[str, ...]:
    return DAILY_KEY if table == DAILY else KEYS[table]


def nonzero(counts: Mapping[str, int] | None) -> dict[str, int]:
    return {c: v for c, v in (counts or {}).items() if v}


def diff(maintained: Snapshot, rebuilt: Snapshot) -> list[str]:
    """One readable line per rollup row on which the two snapshots disagree."""
    lines: list[str] = []
    for table in (*KEYS, DAILY):
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
    idx = {c: _key_of(table).index(c) for c in where}
    return sum(
        counts[column]
        for key, counts in snap[table].items()
        if all(key[idx[c]] == v for c, v in where.items())
    )


def day_of(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _closes(change: Mapping[str, Any]) -> bool:
    return bool(change["to_outcome"] != "open" and change["reason"] != REMAP_REASON)


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

    assert total(snap, DAILY, "created") == len(leads)
    for lead in leads:  # leads count for their pipeline, current dimensions and creation day
        where = {
            "day": day_of(lead["created_at"]),
            "pipeline": lead["pipeline"],
            **{d: lead[d] for d in DIMS},
        }
        assert total(snap, DAILY, "created", **where) == sum(
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
            assert total(snap, DAILY, f"reached_{stage}", pipeline=pipeline) == sum(
                stage in r for lead_id, r in reached.items() if pipeline_of[lead_id] == pipeline
            ), (pipeline, stage)
    assert total(snap, DAILY, "won_now") == sum(x["outcome"] == "won" for x in leads)
    closed = Counter(latest_closing.values())
    for outcome in CLOSING:
        assert total(snap, DAILY, f"closed_{outcome}") == closed[outcome], outcome
    assert total(snap, DAILY, "reopened") == sum(c["reopened"] for c in changes)
    reopened_leads = {c["lead_id"] for c in changes if c["reopened"]}
    assert total(snap, DAILY, "reopened_won") == sum(
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


MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def days_ago(n: int, hour: int = 12) -> datetime:
    """Midday `n` UTC days back: far from any day boundary."""
    return MIDNIGHT - timedelta(days=n) + timedelta(hours=hour)


async def record_by_sql(
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
            " pipeline_version = $11, status_since = $9 WHERE id = $1",
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
            " from_version, from_outcome, to_outcome, estimated_value, currency, probability,"
            " expected_close_date)"
            " SELECT id, $2, $3, $4, $5, $6, $7, owner, source, segment, $8, pipeline, $9, $10,"
            " $11, $12, estimated_value, currency, probability, expected_close_date"
            " FROM leads WHERE id = $1",
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


async def insert_lead(
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


SAME = {"owner": "alex", "source": "web", "segment": "smb"}


async def new_lead(pool: asyncpg.Pool, workflows: Workflows, email: str) -> int:
    row = await service.create_lead(
        pool, workflows, fields={"email": email, "attributes": {}, **SAME}
    )
    lead_id: int = row["id"]
    return lead_id


async def move(
    pool: asyncpg.Pool, workflows: Workflows, lead_id: int, path: Sequence[tuple[str, str]]
) -> None:
    for to, reason in path:
        details = ChangeDetails(competitor="Globex") if reason == "competitor" else ChangeDetails()
        await service.transition_lead(
            pool, workflows, lead_id=lead_id, to=to, reason=reason, details=details
        )


async def lead_at(
    pool: asyncpg.Pool, workflows: Workflows, email: str, path: Sequence[tuple[str, str]]
) -> int:
    lead_id = await new_lead(pool, workflows, email)
    await move(pool, workflows, lead_id, path)
    return lead_id


def in_months(months: int) -> datetime:
    """Midday on the 15th, `months` calendar months from now."""
    now = datetime.now(UTC)
    year, month = divmod(now.month - 1 + months, 12)
    return datetime(now.year + year, month + 1, 15, 12, tzinfo=UTC)
