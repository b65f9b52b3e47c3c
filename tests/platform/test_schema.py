"""The schema as the migrations build it: in step with the table declarations, and guarding
the workflow's invariants even against SQL that bypasses the service."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.pipelines.workflow import Outcome
from app.platform.db import sqlalchemy_url
from app.schema import metadata
from tests.example_pipelines import DEFAULT


# Reflection does not know the rollups' row types that `metrics_pending` holds arrays of, nor
# the events log's transaction ids and lead rows.
@pytest.mark.filterwarnings("ignore:Did not recognize type 'metrics_")
@pytest.mark.filterwarnings("ignore:Did not recognize type 'xid8'")
@pytest.mark.filterwarnings("ignore:Did not recognize type 'leads'")
async def test_migrations_match_the_table_declarations(database_url: str) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))

    def diff(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == []


async def test_database_refuses_unknown_status(pool: asyncpg.Pool) -> None:
    lead_id = await pool.fetchval("INSERT INTO leads (email) VALUES ('x@example.com') RETURNING id")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute("UPDATE leads SET status = 'pending' WHERE id = $1", lead_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # a status, but not with that outcome
        await pool.execute("UPDATE leads SET outcome = 'won' WHERE id = $1", lead_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # no such version
        await pool.execute("UPDATE leads SET pipeline_version = 2 WHERE id = $1", lead_id)


async def test_database_refuses_empty_reason(pool: asyncpg.Pool) -> None:
    lead_id = await pool.fetchval("INSERT INTO leads (email) VALUES ('x@example.com') RETURNING id")
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO lead_status_changes (lead_id, from_status, to_status, reason) "
            "VALUES ($1, 'new', 'contacted', '')",
            lead_id,
        )


async def test_database_allows_one_open_lead_per_email(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO leads (email) VALUES ('Dup@example.com')")
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute("INSERT INTO leads (email) VALUES ('dup@EXAMPLE.com')")
    await pool.execute("UPDATE leads SET status = 'lost', outcome = 'lost'")
    await pool.execute("INSERT INTO leads (email) VALUES ('dup@example.com')")
    assert await pool.fetchval("SELECT count(*) FROM leads") == 2


async def test_service_sessions_skip_jit_compilation(pool: asyncpg.Pool) -> None:
    # Planner estimates for the metrics statements cross jit_above_cost; compiling costs more
    # than running them.
    assert await pool.fetchval("SHOW jit") == "off"


async def test_metrics_fold_skips_jit_compilation_for_any_caller(pool: asyncpg.Pool) -> None:
    settings = await pool.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'metrics_fold'")
    assert settings == ["jit=off"]


async def test_metrics_fold_keeps_its_plan_for_the_connection(pool: asyncpg.Pool) -> None:
    # A LANGUAGE sql function is planned on every call before PostgreSQL 18: the fold's one
    # statement took 20-30 ms to plan, four times a second. PL/pgSQL keeps the plan.
    language = await pool.fetchval(
        "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
        " WHERE p.proname = 'metrics_fold'"
    )
    assert language == "plpgsql"


async def _check_sizes(pool: asyncpg.Pool, table: str) -> dict[str, int]:
    """Each check constraint of `table` by name: the length of the node text PostgreSQL parses
    back on every INSERT and UPDATE statement."""
    rows = await pool.fetch(
        "SELECT conname, length(conbin::text) AS size FROM pg_constraint"
        " WHERE conrelid = $1::regclass AND contype = 'c'",
        table,
    )
    return {row["conname"]: row["size"] for row in rows}


async def test_history_checks_stay_small_enough_to_read_per_insert(pool: asyncpg.Pool) -> None:
    # The reason rule spelled out as pairs was ~30 KB of node text; it lives in a function.
    sizes = await _check_sizes(pool, "lead_status_changes")
    assert {name: size < 5_000 for name, size in sizes.items()} == dict.fromkeys(sizes, True)


async def test_single_column_rules_are_domains_not_table_checks(pool: asyncpg.Pool) -> None:
    # A table check is re-read from its stored text on every write; a domain's stays compiled.
    # Only rules across columns (a status of the row's pipeline version) are table checks, and
    # the rules of columns added since `events.lead` keeps lead rows (0021), which PostgreSQL
    # lets only a table check guard (0022).
    added_since_0021 = {"ck_leads_probability_between_0_and_1"}
    columns = await pool.fetch(
        "SELECT conrelid::regclass::text AS tab, conname, cardinality(conkey) AS n"
        " FROM pg_constraint WHERE contype = 'c'"
        " AND conrelid IN ('leads'::regclass, 'lead_status_changes'::regclass)"
    )
    assert {(r["tab"], r["conname"]) for r in columns} == {
        ("leads", "ck_leads_status_in_version"),
        ("lead_status_changes", "ck_lead_status_changes_in_version"),
        *(("leads", name) for name in added_since_0021),
    }
    single = [r["conname"] for r in columns if r["n"] < 4]
    assert single == sorted(added_since_0021)
    sizes = await _check_sizes(pool, "leads")
    assert {name: size < 5_000 for name, size in sizes.items()} == dict.fromkeys(sizes, True)


async def test_no_constraint_index_or_domain_names_a_status(pool: asyncpg.Pool) -> None:
    # Statuses are each pipeline's data (foreign keys onto its versions' rows), not lists frozen
    # into the schema: no definition may spell one out.
    definitions = await pool.fetch(
        "SELECT pg_get_constraintdef(c.oid) AS d FROM pg_constraint c"
        " JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'"
        " UNION ALL SELECT pg_get_indexdef(indexrelid) FROM pg_index i"
        " JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = 'public'"
        " UNION ALL SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = 'public' AND t.typtype = 'd'"
    )
    assert definitions
    spelled = {
        key: [r["d"] for r in definitions if f"'{key}'" in r["d"] or r["d"] == f"lead_{key}"]
        for key in DEFAULT.keys
        if key not in set(Outcome)  # outcome names, which the schema may name
    }
    assert set(spelled) == {"new", "contacted", "qualified", "negotiating"}
    assert spelled == {key: [] for key in spelled}
    domains = {r["d"] for r in definitions if r["d"].startswith("lead_")}
    assert "lead_status" not in domains and "lead_open_status" not in domains


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("version", 0, "lead_version_positive"),
        ("reopen_count", -1, "lead_reopen_count_not_negative"),
        ("estimated_value", -0.01, "lead_value_not_negative"),
    ],
)
async def test_lead_counters_and_value_refuse_what_no_lead_can_have(
    pool: asyncpg.Pool, column: str, value: float, constraint: str
) -> None:
    lead_id = await pool.fetchval("INSERT INTO leads (email) VALUES ('n@example.com') RETURNING id")
    with pytest.raises(asyncpg.CheckViolationError, match=constraint):
        await pool.execute(f"UPDATE leads SET {column} = {value} WHERE id = $1", lead_id)


async def test_the_history_is_append_only(pool: asyncpg.Pool) -> None:
    lead_id = await pool.fetchval("INSERT INTO leads (email) VALUES ('h@example.com') RETURNING id")
    await pool.execute(
        "INSERT INTO lead_status_changes (lead_id, from_status, to_status, reason)"
        " VALUES ($1, 'new', 'contacted', 'call_connected')",
        lead_id,
    )
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await pool.execute("UPDATE lead_status_changes SET reason = 'meeting_booked'")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await pool.execute("DELETE FROM lead_status_changes")
    assert await pool.fetchval("SELECT reason FROM lead_status_changes") == "call_connected"


@pytest.mark.parametrize(
    ("to_status", "reason", "reopened", "accepted"),
    [
        *((t, r.code, False, True) for t, rule in DEFAULT.reasons.items() for r in rule.reasons),
        *(
            ("qualified", code, True, True)
            for code in (DEFAULT.reopen.codes if DEFAULT.reopen else [])
        ),
        ("new", "call_connected", False, False),  # the initial status is no move's target
        ("won", "budget_approved", True, False),  # nor is won reopening's
        ("lost", "call_connected", False, False),
        ("won", "price", False, False),
        ("qualified", "price", True, False),
    ],
)
async def test_a_history_reason_must_be_one_of_its_targets_codes(
    pool: asyncpg.Pool, to_status: str, reason: str, reopened: bool, accepted: bool
) -> None:
    lead_id = await pool.fetchval("INSERT INTO leads (email) VALUES ('r@example.com') RETURNING id")
    insert = pool.execute(
        "INSERT INTO lead_status_changes"
        " (lead_id, from_status, to_status, reason, reopened, to_outcome)"
        " VALUES ($1, 'new', $2, $3, $4, $5)",
        lead_id,
        to_status,
        reason,
        reopened,
        DEFAULT.outcome(to_status).value,
    )
    if accepted:
        await insert
    else:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await insert


def test_the_code_names_the_head_revision_of_the_migrations() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.main import SCHEMA_REVISION
    from tests.databases import ROOT

    heads = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_heads()
    assert heads == [SCHEMA_REVISION]


async def test_a_leads_creation_time_stays_frozen_with_the_rollups_off(pool: asyncpg.Pool) -> None:
    """The rule is the leads table's own (`leads_created_at_frozen`), not the metrics trigger's:
    a bulk load that switches the rollups off does not switch it off, and a lead without
    history may still be dated."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL leadstatus.rollups = 'off'")
        fresh, moved = await conn.fetchval(
            "WITH l AS (INSERT INTO leads (email) VALUES ('dated@example.com'),"
            " ('moved@example.com') RETURNING id) SELECT array_agg(id ORDER BY id) FROM l"
        )
        await conn.execute(
            "INSERT INTO lead_status_changes (lead_id, from_status, to_status, reason)"
            " VALUES ($1, 'new', 'contacted', 'call_connected')",
            moved,
        )
        await conn.execute(
            "UPDATE leads SET created_at = now() - interval '3 days' WHERE id = $1", fresh
        )
        with pytest.raises(asyncpg.CheckViolationError, match="creation time of lead"):
            async with conn.transaction():
                await conn.execute(
                    "UPDATE leads SET created_at = now() - interval '3 days' WHERE id = $1", moved
                )
