"""Derive pending status changes' metrics deltas in groups, and fold without JIT compilation.

Two costs of the metrics fold fell on the server the writers share. The planner cannot see how
few rows a fold moves (it estimates set-returning functions at hundreds of thousands), so every
fold crossed `jit_above_cost` and spent most of a second of CPU compiling a statement that runs in
milliseconds, four times a second. And each pending status change and new lead was turned into
arrays of rollup rows one at a time (several queries per change in PL/pgSQL), only for the fold
to unnest and sum them again.

Now `metrics_change_facts(ids)` reads what the changes' earlier history says in one pass, and each
rollup's deltas are summed straight from those facts (and from the pending new leads), grouped
before any rollup row is built. Readers (`<rollup>_now`) and the fold share that SQL, so they still
agree exactly; the rebuild is unchanged, and the exactness tests compare the two.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0003() -> ModuleType:
    """The rollups' keys, counts and 0003's statements, which this revision builds on as is."""
    path = Path(__file__).with_name("2026_11_22_metrics_rollups.py")
    spec = importlib.util.spec_from_file_location("metrics_rollups_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


R = _revision_0003()
OPEN, CLOSING = R._list(R.OPEN), R._list(R.CLOSING)

FACTS = f"""
CREATE FUNCTION metrics_change_facts(ids bigint[])
RETURNS TABLE (
  at timestamptz, created_at timestamptz, entered timestamptz, from_status text,
  to_status text, reason text, competitor text, reopened boolean, owner text, source text,
  segment text, revisit_at timestamptz, standing_before timestamptz, old_mask integer,
  new_mask integer, prev_closing lead_status_changes, last_reopen lead_status_changes)
LANGUAGE sql STABLE AS $$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.from_status, c.to_status,
         c.reason, c.competitor, c.reopened, c.owner, c.source, c.segment, c.revisit_at,
         p.standing_before, p.old_mask, p.old_mask | metrics_stage_bit(c.to_status),
         p.prev_closing, p.last_reopen
    FROM lead_status_changes c
    JOIN leads l ON l.id = c.lead_id
    -- What the lead's earlier changes say: when it entered the status it leaves, the stages
    -- it has held, its latest closing and its latest reopening.
    CROSS JOIN LATERAL (
      SELECT (array_agg(q.at ORDER BY q.id DESC))[1] AS entered,
             (array_agg(q.revisit_at ORDER BY q.id DESC))[1] AS standing_before,
             1 | coalesce(bit_or(metrics_stage_bit(q.to_status)), 0) AS old_mask,
             (array_agg(q ORDER BY q.id DESC)
                FILTER (WHERE q.to_status IN ({CLOSING})))[1] AS prev_closing,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.reopened))[1] AS last_reopen
        FROM lead_status_changes q
       WHERE q.lead_id = c.lead_id AND q.id < c.id) p
   WHERE c.id = ANY(ids)
$$
"""


def _change_rows(table: str, facts: str) -> str:
    """Rows of `table` that the status changes in relation `facts` add (not yet summed by key)."""
    if table == "metrics_pipeline":
        # The lead leaves one standing for another.
        return f"""
        SELECT (metrics_standing_key(from_status, owner, source, segment, standing_before,
                                     -1)).* FROM {facts}
        UNION ALL
        SELECT (metrics_standing_key(to_status, owner, source, segment, revisit_at, 1)).*
          FROM {facts}"""
    if table == "metrics_daily":
        prev, last = "prev_closing", "last_reopen"
        return f"""
        SELECT (metrics_closing_delta(metrics_day(({prev}).at), ({prev}).owner, ({prev}).source,
                                      ({prev}).segment, ({prev}).to_status, -count(*))).*
          FROM {facts} WHERE to_status IN ({CLOSING}) AND ({prev}).id IS NOT NULL
         GROUP BY metrics_day(({prev}).at), ({prev}).owner, ({prev}).source, ({prev}).segment,
                  ({prev}).to_status
        UNION ALL
        SELECT (metrics_closing_delta(metrics_day(at), owner, source, segment, to_status,
                                      count(*))).*
          FROM {facts} WHERE to_status IN ({CLOSING})
         GROUP BY metrics_day(at), owner, source, segment, to_status
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day(({last}).at), ({last}).owner, ({last}).source,
                                     ({last}).segment, 0, count(*))).*
          FROM {facts} WHERE to_status = 'won' AND ({last}).id IS NOT NULL
         GROUP BY metrics_day(({last}).at), ({last}).owner, ({last}).source, ({last}).segment
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day(at), owner, source, segment, count(*), 0)).*
          FROM {facts} WHERE reopened
         GROUP BY metrics_day(at), owner, source, segment
        UNION ALL
        SELECT (metrics_cohort_delta(g.day, g.owner, g.source, g.segment, m.mask, m.n)).*
          FROM (SELECT metrics_day(created_at) AS day, owner, source, segment, old_mask,
                       new_mask, count(*) AS n
                  FROM {facts} WHERE new_mask <> old_mask
                 GROUP BY 1, 2, 3, 4, 5, 6) g,
               LATERAL (VALUES (g.old_mask, -g.n), (g.new_mask, g.n)) AS m(mask, n)"""
    if table == "metrics_durations":
        return f"""
        SELECT d.*
          FROM (SELECT metrics_day(at) AS day, 'stay' AS measure, from_status AS status, owner,
                       source, segment, metrics_days(entered, at) AS days, count(*) AS n
                  FROM {facts} WHERE from_status IN ({OPEN})
                 GROUP BY 1, 2, 3, 4, 5, 6, 7
                UNION ALL
                SELECT metrics_day(at), 'cycle', 'won', owner, source, segment,
                       metrics_days(created_at, at), count(*)
                  FROM {facts} WHERE to_status = 'won'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7) g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.owner, g.source,
                                              g.segment, g.days, g.n)) d"""
    assert table == "metrics_losses"
    return f"""
        SELECT o.overall, metrics_day(at), CASE WHEN o.overall THEN NULL ELSE owner END,
               CASE WHEN o.overall THEN NULL ELSE source END,
               CASE WHEN o.overall THEN NULL ELSE segment END,
               to_status, reason, from_status, competitor, count(*)
          FROM {facts}, (VALUES (false), (true)) o(overall)
         WHERE to_status IN ('lost', 'no_decision')
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"""


def _lead_rows(table: str, leads: str) -> str:
    """Rows of `table` that the new leads in relation `leads` add."""
    if table == "metrics_pipeline":
        return f"""
        SELECT (metrics_standing_key(status, owner, source, segment, revisit_at,
                                     count(*)::integer)).*
          FROM {leads} GROUP BY status, owner, source, segment, revisit_at"""
    if table == "metrics_daily":
        return f"""
        SELECT (metrics_cohort_delta(metrics_day(created_at), owner, source, segment, 1,
                                     count(*))).*
          FROM {leads} GROUP BY metrics_day(created_at), owner, source, segment"""
    return ""


def _pending_rows(table: str, rows: str, facts: str, leads: str) -> str:
    """Every delta of `table` not folded in: appended rows, status changes, new leads."""
    column = table.removeprefix("metrics_")
    parts = [f"SELECT d.* FROM {rows} p, unnest(p.{column}) d", _change_rows(table, facts)]
    if lead_rows := _lead_rows(table, leads):
        parts.append(lead_rows)
    return "\nUNION ALL\n".join(parts)


def _view(table: str) -> str:
    facts = "metrics_change_facts(ARRAY(SELECT change_id FROM metrics_pending_changes))"
    return f"""
    CREATE VIEW {table}_now AS
      WITH facts AS MATERIALIZED (SELECT * FROM {facts})
      SELECT * FROM {table}
      UNION ALL
      {_pending_rows(table, "metrics_pending", "facts", "metrics_pending_leads")}
    """


def _fold() -> str:
    """One statement: take every committed pending row, add each rollup's sums, keys in order."""
    steps = []
    for table, (key, counts) in R.ROLLUPS.items():
        keys = ", ".join(key)
        column = table.removeprefix("metrics_")
        steps.append(
            f"""
      {column} AS (
        INSERT INTO {table} AS m ({keys}, {", ".join(counts)})
        SELECT {keys}, {", ".join(f"sum({c})" for c in counts)}
          FROM ({_pending_rows(table, "moved_rows", "facts", "moved_leads")}) d
         GROUP BY {keys} ORDER BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET
          {", ".join(f"{c} = m.{c} + excluded.{c}" for c in counts)}
        RETURNING 1)"""
        )
    return f"""
    CREATE OR REPLACE FUNCTION metrics_fold() RETURNS bigint LANGUAGE sql
    SET jit = off AS $$
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      facts AS (SELECT * FROM metrics_change_facts(ARRAY(SELECT change_id FROM moved_changes))),
      {",".join(steps)}
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads)
    $$
    """


def _drop_views() -> None:
    for table in R.ROLLUPS:
        op.execute(f"DROP VIEW {table}_now")


def upgrade() -> None:
    _drop_views()
    op.execute("DROP VIEW metrics_pending_now")
    op.execute("DROP FUNCTION metrics_change_deltas(bigint)")
    op.execute("DROP FUNCTION metrics_lead_deltas(metrics_pending_leads)")
    op.execute(FACTS)
    for table in R.ROLLUPS:
        op.execute(_view(table))
    op.execute(_fold())


def downgrade() -> None:
    _drop_views()
    for statement in R._functions():
        derives = "metrics_change_deltas(" in statement or "metrics_lead_deltas(" in statement
        if derives and "CREATE FUNCTION metrics_fold()" not in statement:
            op.execute(statement)
    op.execute(R._fold().replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP FUNCTION metrics_change_facts(bigint[])")
    op.execute(
        "CREATE VIEW metrics_pending_now AS SELECT * FROM metrics_pending UNION ALL"
        " SELECT d.* FROM metrics_pending_changes p, metrics_change_deltas(p.change_id) d"
        " UNION ALL SELECT d.* FROM metrics_pending_leads p, metrics_lead_deltas(p) d"
    )
    for table in R.ROLLUPS:
        column = table.removeprefix("metrics_")
        op.execute(
            f"CREATE VIEW {table}_now AS SELECT * FROM {table} UNION ALL"
            f" SELECT d.* FROM metrics_pending_now p, unnest(p.{column}) d"
        )
