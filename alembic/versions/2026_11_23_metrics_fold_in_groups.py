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

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# What this revision builds on from 0003, snapshotted here so that the revision reads alone (a
# later change to 0003's file cannot change what this one does).
ROLLUPS_0003: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "metrics_pipeline": (("status", "owner", "source", "segment", "revisit_month"), ("n",)),
    "metrics_daily": (
        ("day", "owner", "source", "segment"),
        (
            "created",
            "won_now",
            "reached_contacted",
            "reached_qualified",
            "reached_negotiating",
            "went_on_new",
            "went_on_contacted",
            "went_on_qualified",
            "went_on_negotiating",
            "closed_won",
            "closed_lost",
            "closed_no_decision",
            "closed_recycled",
            "closed_disqualified",
            "closed_dead",
            "reopened",
            "reopened_won",
        ),
    ),
    "metrics_durations": (("measure", "dimension", "status", "day", "value", "days"), ("n",)),
    "metrics_losses": (
        (
            "overall",
            "day",
            "owner",
            "source",
            "segment",
            "status",
            "reason",
            "from_status",
            "competitor",
        ),
        ("n",),
    ),
}
"""Each rollup table: its key columns, its count columns."""
OPEN = """'new', 'contacted', 'qualified', 'negotiating'"""
CLOSING = """'won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead'"""
DERIVING_FUNCTIONS_0003 = (
    """
        CREATE FUNCTION metrics_change_deltas(change_id bigint) RETURNS metrics_pending
        LANGUAGE plpgsql STABLE AS $$
        DECLARE
          NEW lead_status_changes;
          lead record;
          prior record;
          prev_closing record;
          last_reopen record;
          has_closing boolean := false;
          has_reopen boolean := false;
          entered timestamptz;
          old_mask integer := 1;
          new_mask integer;
          today date;
          standing_before timestamptz;
          daily metrics_daily[] := '{}';
          durations metrics_durations[] := '{}';
          losses metrics_losses[] := '{}';
          pipeline metrics_pipeline[];
        BEGIN
          SELECT * INTO NEW FROM lead_status_changes WHERE id = change_id;
          today := metrics_day(NEW.at);
          SELECT l.created_at INTO lead FROM leads l WHERE l.id = NEW.lead_id;
          entered := lead.created_at;
          FOR prior IN
            SELECT c.at, c.to_status, c.reopened, c.owner, c.source, c.segment, c.revisit_at
              FROM lead_status_changes c
             WHERE c.lead_id = NEW.lead_id AND c.id < NEW.id ORDER BY c.id
          LOOP
            entered := prior.at;
            standing_before := prior.revisit_at;
            old_mask := old_mask | metrics_stage_bit(prior.to_status);
            IF prior.to_status IN ('won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead') THEN
              prev_closing := prior;
              has_closing := true;
            END IF;
            IF prior.reopened THEN
              last_reopen := prior;
              has_reopen := true;
            END IF;
          END LOOP;

          IF NEW.from_status IN ('new', 'contacted', 'qualified', 'negotiating') THEN
            durations := durations || metrics_duration_deltas(
              today, 'stay', NEW.from_status, NEW.owner, NEW.source, NEW.segment,
              metrics_days(entered, NEW.at), 1);
          END IF;
          IF NEW.to_status IN ('won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead') THEN
            IF has_closing THEN
              daily := daily || metrics_closing_delta(
                metrics_day(prev_closing.at), prev_closing.owner, prev_closing.source,
                prev_closing.segment, prev_closing.to_status, -1);
            END IF;
            daily := daily || metrics_closing_delta(
              today, NEW.owner, NEW.source, NEW.segment, NEW.to_status, 1);
            IF NEW.to_status = 'won' THEN
              durations := durations || metrics_duration_deltas(
                today, 'cycle', 'won', NEW.owner, NEW.source, NEW.segment,
                metrics_days(lead.created_at, NEW.at), 1);
            END IF;
            IF NEW.to_status = 'won' AND has_reopen THEN
              daily := daily || metrics_reopen_delta(
                metrics_day(last_reopen.at), last_reopen.owner, last_reopen.source,
                last_reopen.segment, 0, 1);
            END IF;
          END IF;
          IF NEW.reopened THEN
            daily := daily || metrics_reopen_delta(
              today, NEW.owner, NEW.source, NEW.segment, 1, 0);
          END IF;
          new_mask := old_mask | metrics_stage_bit(NEW.to_status);
          IF new_mask <> old_mask THEN
            daily := daily
              || metrics_cohort_delta(metrics_day(lead.created_at), NEW.owner, NEW.source,
                                      NEW.segment, old_mask, -1)
              || metrics_cohort_delta(metrics_day(lead.created_at), NEW.owner, NEW.source,
                                      NEW.segment, new_mask, 1);
          END IF;

          IF NEW.to_status IN ('lost', 'no_decision') THEN
            losses := ARRAY[
              ROW(false, today, NEW.owner, NEW.source, NEW.segment, NEW.to_status, NEW.reason,
                  NEW.from_status, NEW.competitor, 1)::metrics_losses,
              ROW(true, today, NULL, NULL, NULL, NEW.to_status, NEW.reason,
                  NEW.from_status, NEW.competitor, 1)::metrics_losses];
          END IF;
          -- The lead leaves one standing for another.
          pipeline := ARRAY[
            metrics_standing_key(NEW.from_status, NEW.owner, NEW.source, NEW.segment,
                                 standing_before, -1),
            metrics_standing_key(NEW.to_status, NEW.owner, NEW.source, NEW.segment,
                                 NEW.revisit_at, 1)];
          RETURN ROW(pipeline, daily, durations, losses)::metrics_pending;
        END $$
        """,
    """
        CREATE FUNCTION metrics_lead_deltas(new_lead metrics_pending_leads)
        RETURNS metrics_pending LANGUAGE sql STABLE AS $$
          SELECT ROW(
            ARRAY[metrics_standing_key(new_lead.status, new_lead.owner, new_lead.source,
                                       new_lead.segment, new_lead.revisit_at, 1)],
            ARRAY[metrics_cohort_delta(metrics_day(new_lead.created_at), new_lead.owner,
                                       new_lead.source, new_lead.segment, 1, 1)],
            '{}', '{}')::metrics_pending
        $$
        """,
)
"""0003's per-change and per-lead delta functions, which a downgrade puts back."""
FOLD_0003 = """
    CREATE OR REPLACE FUNCTION metrics_fold() RETURNS bigint LANGUAGE sql AS $$
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      moved AS (
        SELECT * FROM moved_rows
        UNION ALL
        SELECT d.* FROM moved_changes c, metrics_change_deltas(c.change_id) d
        UNION ALL
        SELECT d.* FROM moved_leads l,
                        metrics_lead_deltas(ROW(l.*)::metrics_pending_leads) d),
      
      pipeline AS (
        INSERT INTO metrics_pipeline AS m (status, owner, source, segment, revisit_month, n)
        SELECT d.status, d.owner, d.source, d.segment, d.revisit_month, sum(d.n)
          FROM moved, unnest(moved.pipeline) d
         GROUP BY d.status, d.owner, d.source, d.segment, d.revisit_month ORDER BY d.status, d.owner, d.source, d.segment, d.revisit_month
        ON CONFLICT (status, owner, source, segment, revisit_month) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      daily AS (
        INSERT INTO metrics_daily AS m (day, owner, source, segment, created, won_now, reached_contacted, reached_qualified, reached_negotiating, went_on_new, went_on_contacted, went_on_qualified, went_on_negotiating, closed_won, closed_lost, closed_no_decision, closed_recycled, closed_disqualified, closed_dead, reopened, reopened_won)
        SELECT d.day, d.owner, d.source, d.segment, sum(d.created), sum(d.won_now), sum(d.reached_contacted), sum(d.reached_qualified), sum(d.reached_negotiating), sum(d.went_on_new), sum(d.went_on_contacted), sum(d.went_on_qualified), sum(d.went_on_negotiating), sum(d.closed_won), sum(d.closed_lost), sum(d.closed_no_decision), sum(d.closed_recycled), sum(d.closed_disqualified), sum(d.closed_dead), sum(d.reopened), sum(d.reopened_won)
          FROM moved, unnest(moved.daily) d
         GROUP BY d.day, d.owner, d.source, d.segment ORDER BY d.day, d.owner, d.source, d.segment
        ON CONFLICT (day, owner, source, segment) DO UPDATE SET
          created = m.created + excluded.created, won_now = m.won_now + excluded.won_now, reached_contacted = m.reached_contacted + excluded.reached_contacted, reached_qualified = m.reached_qualified + excluded.reached_qualified, reached_negotiating = m.reached_negotiating + excluded.reached_negotiating, went_on_new = m.went_on_new + excluded.went_on_new, went_on_contacted = m.went_on_contacted + excluded.went_on_contacted, went_on_qualified = m.went_on_qualified + excluded.went_on_qualified, went_on_negotiating = m.went_on_negotiating + excluded.went_on_negotiating, closed_won = m.closed_won + excluded.closed_won, closed_lost = m.closed_lost + excluded.closed_lost, closed_no_decision = m.closed_no_decision + excluded.closed_no_decision, closed_recycled = m.closed_recycled + excluded.closed_recycled, closed_disqualified = m.closed_disqualified + excluded.closed_disqualified, closed_dead = m.closed_dead + excluded.closed_dead, reopened = m.reopened + excluded.reopened, reopened_won = m.reopened_won + excluded.reopened_won
        RETURNING 1),
      durations AS (
        INSERT INTO metrics_durations AS m (measure, dimension, status, day, value, days, n)
        SELECT d.measure, d.dimension, d.status, d.day, d.value, d.days, sum(d.n)
          FROM moved, unnest(moved.durations) d
         GROUP BY d.measure, d.dimension, d.status, d.day, d.value, d.days ORDER BY d.measure, d.dimension, d.status, d.day, d.value, d.days
        ON CONFLICT (measure, dimension, status, day, value, days) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      losses AS (
        INSERT INTO metrics_losses AS m (overall, day, owner, source, segment, status, reason, from_status, competitor, n)
        SELECT d.overall, d.day, d.owner, d.source, d.segment, d.status, d.reason, d.from_status, d.competitor, sum(d.n)
          FROM moved, unnest(moved.losses) d
         GROUP BY d.overall, d.day, d.owner, d.source, d.segment, d.status, d.reason, d.from_status, d.competitor ORDER BY d.overall, d.day, d.owner, d.source, d.segment, d.status, d.reason, d.from_status, d.competitor
        ON CONFLICT (overall, day, owner, source, segment, status, reason, from_status, competitor) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1)
      SELECT count(*) FROM moved
    $$
    """
"""0003's fold, which a downgrade puts back."""

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
    for table, (key, counts) in ROLLUPS_0003.items():
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
    for table in ROLLUPS_0003:
        op.execute(f"DROP VIEW {table}_now")


def upgrade() -> None:
    _drop_views()
    op.execute("DROP VIEW metrics_pending_now")
    op.execute("DROP FUNCTION metrics_change_deltas(bigint)")
    op.execute("DROP FUNCTION metrics_lead_deltas(metrics_pending_leads)")
    op.execute(FACTS)
    for table in ROLLUPS_0003:
        op.execute(_view(table))
    op.execute(_fold())


def downgrade() -> None:
    _drop_views()
    for statement in DERIVING_FUNCTIONS_0003:
        op.execute(statement)
    op.execute(FOLD_0003)
    op.execute("DROP FUNCTION metrics_change_facts(bigint[])")
    op.execute(
        "CREATE VIEW metrics_pending_now AS SELECT * FROM metrics_pending UNION ALL"
        " SELECT d.* FROM metrics_pending_changes p, metrics_change_deltas(p.change_id) d"
        " UNION ALL SELECT d.* FROM metrics_pending_leads p, metrics_lead_deltas(p) d"
    )
    for table in ROLLUPS_0003:
        column = table.removeprefix("metrics_")
        op.execute(
            f"CREATE VIEW {table}_now AS SELECT * FROM {table} UNION ALL"
            f" SELECT d.* FROM metrics_pending_now p, unnest(p.{column}) d"
        )
