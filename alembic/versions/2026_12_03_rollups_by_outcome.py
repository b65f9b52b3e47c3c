"""Daily rollups in long format: cohorts by the stages they held, closings by outcome.

`metrics_daily` had a column per funnel position (`reached_2`..`reached_12`,
`went_on_1`..`went_on_12`) and per closing outcome (`closed_won`..`closed_dead`): a longer
funnel or a new outcome meant DDL, and each count was spelled out in every function that wrote
the table. It becomes three tables whose rows are keyed by what they count:

* `metrics_cohorts`: leads created that day, by the **set of stages** they have held (the stage
  mask of `metrics_stages`, the won stage included). The funnel's counts (reached, went on,
  won now) are read from the mask by the same rule the history queries apply to a lead's own
  mask, so a pipeline of any length needs no column.
* `metrics_closings`: latest closings by **outcome**.
* `metrics_reopenings`: reopenings, and how many of them are the latest of a lead now won.

Long rows are more rows: under the full key alone, a 90-day window of a million leads is
131,000 rows to sum for the owners table. So each of the three keeps every count at five
**grains** (`grain`): under the full key, under one dimension (the other two NULL) and overall;
a read sums the coarsest grain that holds its filters, and `metrics_grains()` spreads a
full-key row over them.

What pending changes, new leads and queued edits add to each rollup is now defined once, by a
function per rollup (`metrics_<rollup>_deltas(facts, leads, queued)`, at the full grain), which
both the fold and the `<rollup>_now` views call; before, that SQL was generated twice into
each. The facts of a batch of changes have a type of their own (`metrics_fact`). The queue of edits,
`metrics_pending`, keeps only what an edit or delete can move: cohorts and standings.

The new rollups are built from the history (`metrics_rebuild()`), since a stage mask cannot be
read back from per-stage totals; writers wait for it (SHARE ROW EXCLUSIVE on leads and history).
The downgrade puts 0015's wide table and functions back and rebuilds them the same way.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "open"
WON = "won"
LOSSES = ("lost", "no_decision")
REMAP = "pipeline_remap"
"""The reserved reason of a change a pipeline edit made."""
WON_BIT = 1 << 12
"""The won stage's bit in a stage mask (`metrics_stages` gives the open stages theirs)."""

DAILY_KEY = ("day", "pipeline", "owner", "source", "segment")
GRAINS = ("full", "owner", "source", "segment", "all")
"""The grains a per-day rollup keeps each count at: under the full key (owner, source and
segment as they are), under one dimension (the other two NULL), and overall. A read takes the
coarsest grain that holds what it filters and groups by."""
ROLLUPS = {
    "metrics_pipeline": (
        ("pipeline", "status", "owner", "source", "segment", "revisit_month"),
        ("n",),
    ),
    "metrics_cohorts": (("grain", *DAILY_KEY, "stages"), ("n",)),
    "metrics_closings": (("grain", *DAILY_KEY, "outcome"), ("n",)),
    "metrics_reopenings": (("grain", *DAILY_KEY), ("n", "won")),
    "metrics_durations": (
        ("measure", "dimension", "status", "day", "pipeline", "value", "days"),
        ("n",),
    ),
    "metrics_losses": (
        (
            "overall",
            *DAILY_KEY,
            "status",
            "reason",
            "from_status",
            "competitor",
        ),
        ("n",),
    ),
}
"""Each rollup with its key and its counts, in the order the fold takes them."""
QUEUED = ("metrics_cohorts", "metrics_pipeline")
"""The rollups an edit or delete of a lead moves (through `metrics_pending`)."""
NEW = ("metrics_cohorts", "metrics_closings", "metrics_reopenings")


def _grain(table: str) -> str:
    known = ", ".join(f"'{g}'" for g in GRAINS)
    return f"grain text NOT NULL CONSTRAINT ck_{table}_grain_known CHECK (grain IN ({known}))"


TABLES = [
    f"""
    CREATE TABLE metrics_cohorts (
      {_grain("metrics_cohorts")}, day date NOT NULL, pipeline text NOT NULL, owner text,
      source text, segment text, stages integer NOT NULL, n integer NOT NULL DEFAULT 0)
    """,
    f"""
    CREATE TABLE metrics_closings (
      {_grain("metrics_closings")}, day date NOT NULL, pipeline text NOT NULL, owner text,
      source text, segment text, outcome text NOT NULL, n integer NOT NULL DEFAULT 0)
    """,
    f"""
    CREATE TABLE metrics_reopenings (
      {_grain("metrics_reopenings")}, day date NOT NULL, pipeline text NOT NULL, owner text,
      source text, segment text, n integer NOT NULL DEFAULT 0, won integer NOT NULL DEFAULT 0)
    """,
]

GRAINS_OF = f"""
CREATE FUNCTION metrics_grains(o text, s text, g text)
RETURNS TABLE (grain text, owner text, source text, segment text)
LANGUAGE sql IMMUTABLE AS $$
  VALUES ('{GRAINS[0]}', o, s, g), ('{GRAINS[1]}', o, NULL, NULL), ('{GRAINS[2]}', NULL, s, NULL),
         ('{GRAINS[3]}', NULL, NULL, g), ('{GRAINS[4]}', NULL, NULL, NULL)
$$
"""
"""The grains a count under owner `o`, source `s` and segment `g` is kept at."""


def _spread(table: str, rows: str) -> str:
    """The per-day rollup `table`'s rows `rows` (at the full grain) at every grain, not yet
    summed; other rollups' rows as they are."""
    key, counts = ROLLUPS[table]
    if key[0] != "grain":
        return f"SELECT * FROM {rows}"
    columns = [f"g.{c}" if c in ("grain", "owner", "source", "segment") else f"d.{c}" for c in key]
    return (
        f"SELECT {', '.join(columns)}, {', '.join(f'd.{c}' for c in counts)}"
        f" FROM {rows} d, metrics_grains(d.owner, d.source, d.segment) g"
    )


def _unique_index(table: str) -> str:
    key, counts = ROLLUPS[table]
    return (
        f"CREATE UNIQUE INDEX uq_{table}_key ON {table} ({', '.join(key)})"
        f" INCLUDE ({', '.join(counts)}) NULLS NOT DISTINCT"
    )


CLOSES = f"{{0}}.to_outcome <> '{OPEN}' AND {{0}}.reason <> '{REMAP}'"
"""A change that closes a lead (or closes it anew): into a closed outcome, not a remap."""


def _bit(change: str, stage: str) -> str:
    return (
        f"CASE WHEN {change}.to_outcome = '{WON}' THEN {WON_BIT} ELSE coalesce({stage}.bit, 0) END"
    )


def _stage_join(change: str, stage: str) -> str:
    return (
        f"LEFT JOIN metrics_stages {stage} ON {stage}.pipeline = {change}.pipeline"
        f" AND {stage}.version = {change}.pipeline_version AND {stage}.status = {change}.to_status"
    )


FACT_TYPE = """
CREATE TYPE metrics_fact AS (
  at timestamptz, created_at timestamptz, entered timestamptz, pipeline text, from_status text,
  to_status text, from_outcome text, to_outcome text, closes boolean, reason text,
  competitor text, reopened boolean, owner text, source text, segment text,
  revisit_at timestamptz, standing_before timestamptz, old_mask integer, new_mask integer,
  prev_closing lead_status_changes, last_reopen lead_status_changes)
"""
"""What one status change adds to the rollups, read from the history before it."""

FACTS = f"""
CREATE FUNCTION metrics_change_facts(ids bigint[]) RETURNS SETOF metrics_fact
LANGUAGE sql STABLE AS $$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.pipeline, c.from_status,
         c.to_status, c.from_outcome, c.to_outcome, {CLOSES.format("c")}, c.reason,
         c.competitor, c.reopened, c.owner, c.source, c.segment, c.revisit_at,
         p.standing_before, p.old_mask, p.old_mask | {_bit("c", "b")}, p.prev_closing,
         p.last_reopen
    FROM lead_status_changes c
    JOIN leads l ON l.id = c.lead_id
    {_stage_join("c", "b")}
    -- What the lead's earlier changes say: when it entered the status it leaves, the stages
    -- it has held, its latest closing and its latest reopening.
    CROSS JOIN LATERAL (
      SELECT (array_agg(q.at ORDER BY q.id DESC))[1] AS entered,
             (array_agg(q.revisit_at ORDER BY q.id DESC))[1] AS standing_before,
             1 | coalesce(bit_or({_bit("q", "qb")}), 0) AS old_mask,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE {CLOSES.format("q")}))[1]
               AS prev_closing,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.reopened))[1] AS last_reopen
        FROM lead_status_changes q
        {_stage_join("q", "qb")}
       WHERE q.lead_id = c.lead_id AND q.id < c.id) p
   WHERE c.id = ANY(ids)
$$
"""

BATCH = "facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[]"
"""The arguments of every `metrics_<rollup>_deltas()`: a batch of status changes (as facts),
of new leads, and of queued edits, none folded in yet."""


def _deltas(table: str, body: str) -> str:
    name = table.removeprefix("metrics_")
    return f"""
    CREATE FUNCTION metrics_{name}_deltas({BATCH}) RETURNS SETOF {table}
    LANGUAGE sql IMMUTABLE AS $$ {body} $$
    """


def _at(row: str) -> str:
    """The day and dimensions a history row `row` (a composite) counts for."""
    return (
        f"metrics_day(({row}).at), ({row}).pipeline, ({row}).owner, ({row}).source, ({row}).segment"
    )


DELTAS = [
    # A lead leaves one standing for another (a remap too); a new lead stands where created.
    _deltas(
        "metrics_pipeline",
        """
        SELECT d.* FROM unnest(queued) q, unnest(q.pipeline) d
        UNION ALL
        SELECT (metrics_standing_key(f.pipeline, f.from_status, f.from_outcome, f.owner,
                                     f.source, f.segment, f.standing_before, -1)).*
          FROM unnest(facts) f
        UNION ALL
        SELECT (metrics_standing_key(f.pipeline, f.to_status, f.to_outcome, f.owner, f.source,
                                     f.segment, f.revisit_at, 1)).*
          FROM unnest(facts) f
        UNION ALL
        SELECT (metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                     l.segment, l.revisit_at, 1)).*
          FROM unnest(leads) l
        """,
    ),
    # A change that adds stages moves its lead from one stage set to another; a new lead
    # holds stage 1.
    _deltas(
        "metrics_cohorts",
        """
        SELECT d.* FROM unnest(queued) q, unnest(q.cohorts) d
        UNION ALL
        SELECT 'full', metrics_day(f.created_at), f.pipeline, f.owner, f.source, f.segment,
               m.stages, m.n
          FROM unnest(facts) f,
               LATERAL (VALUES (f.old_mask, -1), (f.new_mask, 1)) AS m(stages, n)
         WHERE f.new_mask <> f.old_mask
        UNION ALL
        SELECT 'full', metrics_day(l.created_at), l.pipeline, l.owner, l.source, l.segment, 1, 1
          FROM unnest(leads) l
        """,
    ),
    # A closing replaces its lead's earlier one, where that was counted.
    _deltas(
        "metrics_closings",
        f"""
        SELECT 'full', {_at("f.prev_closing")}, (f.prev_closing).to_outcome, -1
          FROM unnest(facts) f WHERE f.closes AND (f.prev_closing).id IS NOT NULL
        UNION ALL
        SELECT 'full', metrics_day(f.at), f.pipeline, f.owner, f.source, f.segment, f.to_outcome,
               1
          FROM unnest(facts) f WHERE f.closes
        """,
    ),
    # A win makes the lead's latest reopening one that ended in a win.
    _deltas(
        "metrics_reopenings",
        f"""
        SELECT 'full', metrics_day(f.at), f.pipeline, f.owner, f.source, f.segment, 1, 0
          FROM unnest(facts) f WHERE f.reopened
        UNION ALL
        SELECT 'full', {_at("f.last_reopen")}, 0, 1
          FROM unnest(facts) f
         WHERE f.closes AND f.to_outcome = '{WON}' AND (f.last_reopen).id IS NOT NULL
        """,
    ),
    # A stay ends with every move out of an open status; a cycle with every win.
    _deltas(
        "metrics_durations",
        f"""
        SELECT d.*
          FROM (SELECT metrics_day(f.at) AS day, 'stay' AS measure, f.from_status AS status,
                       f.pipeline, f.owner, f.source, f.segment,
                       metrics_days(f.entered, f.at) AS days
                  FROM unnest(facts) f WHERE f.from_outcome = '{OPEN}'
                UNION ALL
                SELECT metrics_day(f.at), 'cycle', '{WON}', f.pipeline, f.owner, f.source,
                       f.segment, metrics_days(f.created_at, f.at)
                  FROM unnest(facts) f WHERE f.closes AND f.to_outcome = '{WON}') g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.pipeline, g.owner,
                                              g.source, g.segment, g.days, 1)) d
        """,
    ),
    # Every loss and no-decision, overall and by its dimensions.
    _deltas(
        "metrics_losses",
        f"""
        SELECT o.overall, metrics_day(f.at), f.pipeline,
               CASE WHEN o.overall THEN NULL ELSE f.owner END,
               CASE WHEN o.overall THEN NULL ELSE f.source END,
               CASE WHEN o.overall THEN NULL ELSE f.segment END,
               f.to_outcome, f.reason, f.from_status, f.competitor, 1
          FROM unnest(facts) f, (VALUES (false), (true)) o(overall)
         WHERE f.closes AND f.to_outcome IN ('{LOSSES[0]}', '{LOSSES[1]}')
        """,
    ),
]

PENDING = (
    "ARRAY(SELECT f FROM metrics_change_facts(ARRAY(SELECT change_id"
    " FROM metrics_pending_changes)) f)",
    "ARRAY(SELECT l FROM metrics_pending_leads l)",
    "ARRAY(SELECT q FROM metrics_pending q)",
)


def _view(table: str) -> str:
    """The rollup plus its pending deltas; the rollup's branch stays an index-only scan."""
    name = table.removeprefix("metrics_")
    return f"""
    CREATE VIEW {table}_now AS
      SELECT * FROM {table}
      UNION ALL
      {_spread(table, f"metrics_{name}_deltas({', '.join(PENDING)})")}
    """


def _fold() -> str:
    """Move every committed delta into its rollup: one statement, one upsert per key, keys in
    order (so concurrent folds lock rows in one order). PL/pgSQL keeps the statement's plan for
    the connection, and without JIT: the planner cannot see how few rows a fold moves."""
    steps = []
    for table, (key, counts) in ROLLUPS.items():
        keys = ", ".join(key)
        name = table.removeprefix("metrics_")
        steps.append(
            f"""
      {name} AS (
        INSERT INTO {table} AS m ({keys}, {", ".join(counts)})
        SELECT {keys}, {", ".join(f"sum({c})" for c in counts)}
          FROM batch b,
               LATERAL ({_spread(table, f"metrics_{name}_deltas(b.facts, b.leads, b.queued)")}) d
         GROUP BY {keys} HAVING {" OR ".join(f"sum({c}) <> 0" for c in counts)}
         ORDER BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET
          {", ".join(f"{c} = m.{c} + excluded.{c}" for c in counts)}
        RETURNING 1)"""
        )
    return f"""
    CREATE FUNCTION metrics_fold() RETURNS bigint LANGUAGE plpgsql
    SET jit = off AS $fold$
    DECLARE
      moved bigint;
    BEGIN
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      batch AS MATERIALIZED (
        SELECT ARRAY(SELECT f FROM metrics_change_facts(ARRAY(SELECT change_id
                                                              FROM moved_changes)) f) AS facts,
               ARRAY(SELECT ROW(l.*)::metrics_pending_leads FROM moved_leads l) AS leads,
               ARRAY(SELECT ROW(q.*)::metrics_pending FROM moved_rows q) AS queued),
      {",".join(steps)}
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
    $fold$
    """


# A lead's creation counts for its current dimensions: an edit of owner, source or segment
# moves it with the stages it holds, a deleted lead leaves; an edited revisit date of a lead
# whose status stays moves its standing (a status change moves it through its own deltas).
ON_LEAD = """
CREATE OR REPLACE FUNCTION metrics_on_lead() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  stages integer;
  cohorts metrics_cohorts[] := '{}';
  pipeline metrics_pipeline[] := '{}';
BEGIN
  IF current_setting('leadstatus.rollups', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status) THEN
    pipeline := pipeline || metrics_standing_key(
      OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
      OLD.revisit_at, -1);
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
    pipeline := pipeline || metrics_standing_key(
      NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
      NEW.revisit_at, 1);
  END IF;
  IF TG_OP = 'DELETE' OR (OLD.owner, OLD.source, OLD.segment, OLD.created_at)
      IS DISTINCT FROM (NEW.owner, NEW.source, NEW.segment, NEW.created_at) THEN
    stages := metrics_stage_mask(OLD.id);
    cohorts := cohorts || ROW('full', metrics_day(OLD.created_at), OLD.pipeline, OLD.owner,
                              OLD.source, OLD.segment, stages, -1)::metrics_cohorts;
    IF TG_OP = 'UPDATE' THEN
      cohorts := cohorts || ROW('full', metrics_day(NEW.created_at), NEW.pipeline, NEW.owner,
                                NEW.source, NEW.segment, stages, 1)::metrics_cohorts;
    END IF;
  END IF;
  INSERT INTO metrics_pending (cohorts, pipeline) VALUES (cohorts, pipeline);
  RETURN NULL;
END $$
"""

def _spread_summed(table: str, rows: str) -> str:
    """`rows` of `table` (at the full grain) at every grain, summed by key."""
    key, counts = ROLLUPS[table]
    return (
        f"SELECT {', '.join(key)}, {', '.join(f'sum({c})' for c in counts)}"
        f" FROM ({_spread(table, f'({rows})')}) spread GROUP BY {', '.join(key)}"
    )


COHORTS_FROM_HISTORY = f"""
    SELECT 'full' AS grain, metrics_day(l.created_at) AS day, l.pipeline, l.owner, l.source,
           l.segment, coalesce(r.stages, 1) AS stages, count(*) AS n
      FROM leads l
      LEFT JOIN (SELECT c.lead_id, 1 | bit_or({_bit("c", "b")}) AS stages
                   FROM lead_status_changes c {_stage_join("c", "b")}
                  GROUP BY c.lead_id) r ON r.lead_id = l.id
     GROUP BY 2, 3, 4, 5, 6, 7"""
CLOSINGS_FROM_HISTORY = """
    SELECT 'full' AS grain, metrics_day(at) AS day, pipeline, owner, source, segment,
           to_outcome AS outcome, count(*) AS n
      FROM latest_closings GROUP BY 2, 3, 4, 5, 6, 7"""
REOPENINGS_FROM_HISTORY = f"""
    SELECT 'full' AS grain, day, pipeline, owner, source, segment, sum(n) AS n, sum(won) AS won
      FROM (SELECT metrics_day(at) AS day, pipeline, owner, source, segment, 1 AS n, 0 AS won
              FROM lead_status_changes WHERE reopened
            UNION ALL
            SELECT metrics_day(r.at), r.pipeline, r.owner, r.source, r.segment, 0, 1
              FROM (SELECT DISTINCT ON (c.lead_id) c.at, c.pipeline, c.owner, c.source,
                           c.segment
                      FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
                     WHERE c.reopened AND l.outcome = '{WON}'
                     ORDER BY c.lead_id, c.id DESC) r) g
     GROUP BY 2, 3, 4, 5, 6"""
"""The per-day rollups at the full grain, from the history (`latest_closings` is the
rebuild's temporary table of each lead's latest closing)."""

REBUILD = f"""
CREATE FUNCTION metrics_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- Wait for writers in flight and hold off new ones, so none holds a rollup table this
  -- needs; readers carry on until the TRUNCATE.
  LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE;
  TRUNCATE metrics_pending, metrics_pending_changes, metrics_pending_leads,
           {", ".join(ROLLUPS)};

  CREATE TEMP TABLE latest_closings ON COMMIT DROP AS
    SELECT DISTINCT ON (c.lead_id) c.lead_id, c.at, c.pipeline, c.to_outcome, c.owner,
           c.source, c.segment, l.created_at
      FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
     WHERE {CLOSES.format("c")}
     ORDER BY c.lead_id, c.id DESC;

  INSERT INTO metrics_cohorts ({", ".join(ROLLUPS["metrics_cohorts"][0])}, n)
  {_spread_summed("metrics_cohorts", COHORTS_FROM_HISTORY)};

  INSERT INTO metrics_closings ({", ".join(ROLLUPS["metrics_closings"][0])}, n)
  {_spread_summed("metrics_closings", CLOSINGS_FROM_HISTORY)};

  INSERT INTO metrics_reopenings ({", ".join(ROLLUPS["metrics_reopenings"][0])}, n, won)
  {_spread_summed("metrics_reopenings", REOPENINGS_FROM_HISTORY)};

  INSERT INTO metrics_durations ({", ".join(ROLLUPS["metrics_durations"][0])}, n)
  SELECT x.measure, x.dimension, x.status, x.day, x.pipeline, x.value, x.days, sum(x.n)
    FROM (
      SELECT unnest(metrics_duration_deltas(metrics_day(at), 'cycle', '{WON}', pipeline,
                                            owner, source, segment,
                                            metrics_days(created_at, at), count(*))) AS d
        FROM latest_closings WHERE to_outcome = '{WON}'
       GROUP BY metrics_day(at), pipeline, owner, source, segment,
                metrics_days(created_at, at)
      UNION ALL
      SELECT unnest(metrics_duration_deltas(day, 'stay', from_status, pipeline, owner,
                                            source, segment, days, count(*)))
        FROM (SELECT metrics_day(c.at) AS day, c.pipeline, c.from_status, c.from_outcome,
                     c.owner, c.source, c.segment,
                     metrics_days(coalesce(lag(c.at) OVER (PARTITION BY c.lead_id
                                                          ORDER BY c.id),
                                           l.created_at), c.at) AS days
                FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id) stays
       WHERE from_outcome = '{OPEN}'
       GROUP BY day, pipeline, from_status, owner, source, segment, days
    ) deltas, LATERAL (SELECT (deltas.d).*) x
   GROUP BY 1, 2, 3, 4, 5, 6, 7;

  INSERT INTO metrics_losses ({", ".join(ROLLUPS["metrics_losses"][0])}, n)
  SELECT o.overall, metrics_day(at), pipeline, CASE WHEN o.overall THEN NULL ELSE owner END,
         CASE WHEN o.overall THEN NULL ELSE source END,
         CASE WHEN o.overall THEN NULL ELSE segment END,
         to_outcome, reason, from_status, competitor, count(*)
    FROM lead_status_changes c, (VALUES (false), (true)) o(overall)
   WHERE {CLOSES.format("c")} AND to_outcome IN ('{LOSSES[0]}', '{LOSSES[1]}')
   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

  INSERT INTO metrics_pipeline ({", ".join(ROLLUPS["metrics_pipeline"][0])}, n)
  SELECT k.pipeline, k.status, k.owner, k.source, k.segment, k.revisit_month, count(*)
    FROM leads l,
         LATERAL metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                      l.segment, l.revisit_at, 1) k
   GROUP BY 1, 2, 3, 4, 5, 6;
  DROP TABLE latest_closings;
END $$
"""

OLD_VIEWS = ("metrics_pipeline", "metrics_daily", "metrics_durations", "metrics_losses")
OLD_FUNCTIONS = (
    "metrics_fold()",
    "metrics_rebuild()",
    "metrics_change_facts(bigint[])",
    "metrics_cohort_delta(date, text, text, text, text, integer, bigint)",
    "metrics_closing_delta(date, text, text, text, text, text, bigint)",
    "metrics_reopen_delta(date, text, text, text, text, bigint, bigint)",
)
"""0015's functions that name `metrics_daily`'s columns or the old queue."""


def upgrade() -> None:
    op.execute("LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE")
    for table in OLD_VIEWS:
        op.execute(f"DROP VIEW {table}_now")
    for function in OLD_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP TABLE metrics_pending, metrics_daily")
    for statement in TABLES:
        op.execute(statement)
    for table in NEW:
        op.execute(_unique_index(table))
    op.execute(
        "CREATE TABLE metrics_pending ("
        + ", ".join(f"{t.removeprefix('metrics_')} {t}[] NOT NULL" for t in QUEUED)
        + ")"
    )
    op.execute(FACT_TYPE)
    op.execute(FACTS)
    op.execute(GRAINS_OF)
    for statement in DELTAS:
        op.execute(statement)
    for table in ROLLUPS:
        op.execute(_view(table))
    op.execute(ON_LEAD)
    op.execute(_fold())
    op.execute(REBUILD)
    op.execute("SELECT metrics_rebuild()")


OLD_DAILY_COUNTS = (
    "created",
    "won_now",
    *(f"reached_{i}" for i in range(2, 13)),
    *(f"went_on_{i}" for i in range(1, 13)),
    *(f"closed_{o}" for o in ("won", "lost", "no_decision", "recycled", "disqualified", "dead")),
    "reopened",
    "reopened_won",
)
"""0015's `metrics_daily` counts, in column order."""


def _not_null(column: str) -> str:
    """A NOT NULL named as 0013 left it: PostgreSQL 18 names these constraints, and 0013
    created the table beside 0012's, whose columns of the same name held the plain names."""
    kept = column in ("day", "created", "won_now", "reopened", "reopened_won")
    suffix = "1" if kept or column.startswith("closed_") else ""
    return f"CONSTRAINT metrics_daily_{column}_not_null{suffix} NOT NULL"


def downgrade() -> None:
    op.execute("LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE")
    for table in ROLLUPS:
        op.execute(f"DROP VIEW {table}_now")
    op.execute("DROP FUNCTION metrics_fold(), metrics_rebuild()")
    for table in ROLLUPS:
        op.execute(f"DROP FUNCTION metrics_{table.removeprefix('metrics_')}_deltas")
    op.execute("DROP FUNCTION metrics_change_facts(bigint[]), metrics_grains(text, text, text)")
    op.execute("DROP TYPE metrics_fact")
    op.execute("DROP TABLE metrics_pending, " + ", ".join(NEW))
    counts = ", ".join(f"{c} integer {_not_null(c)} DEFAULT 0" for c in OLD_DAILY_COUNTS)
    op.execute(
        f"CREATE TABLE metrics_daily (day date {_not_null('day')},"
        f" pipeline text {_not_null('pipeline')}, owner text, source text, segment text, {counts})"
    )
    cohort = [c for c in OLD_DAILY_COUNTS if c.startswith(("reached_", "went_on_"))]
    op.execute(
        f"CREATE UNIQUE INDEX uq_metrics_daily_key ON metrics_daily ({', '.join(DAILY_KEY)})"
        f" INCLUDE ({', '.join(c for c in OLD_DAILY_COUNTS if c not in cohort)})"
        " NULLS NOT DISTINCT"
    )
    op.execute(
        f"CREATE INDEX ix_metrics_daily_stages ON metrics_daily ({', '.join(DAILY_KEY)})"
        f" INCLUDE (created, won_now, {', '.join(cohort)})"
    )
    op.execute(
        "CREATE TABLE metrics_pending (pipeline metrics_pipeline[] NOT NULL,"
        " daily metrics_daily[] NOT NULL, durations metrics_durations[] NOT NULL,"
        " losses metrics_losses[] NOT NULL)"
    )
    for statement in OLD_OBJECTS:
        op.execute(statement)
    op.execute("SELECT metrics_rebuild()")


# What a downgrade puts back: 0015's objects exactly as it left them (its live SQL files).
OLD_OBJECTS = [
    # metrics_cohort_delta
    """
CREATE OR REPLACE FUNCTION public.metrics_cohort_delta(day date, pipeline text, owner text, source text, segment text, m integer, n bigint)
 RETURNS metrics_daily
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT ROW(day, pipeline, owner, source, segment, n, CASE WHEN m & 4096 <> 0 THEN n ELSE 0 END, CASE WHEN m & 2 <> 0 THEN n ELSE 0 END, CASE WHEN m & 4 <> 0 THEN n ELSE 0 END, CASE WHEN m & 8 <> 0 THEN n ELSE 0 END, CASE WHEN m & 16 <> 0 THEN n ELSE 0 END, CASE WHEN m & 32 <> 0 THEN n ELSE 0 END, CASE WHEN m & 64 <> 0 THEN n ELSE 0 END, CASE WHEN m & 128 <> 0 THEN n ELSE 0 END, CASE WHEN m & 256 <> 0 THEN n ELSE 0 END, CASE WHEN m & 512 <> 0 THEN n ELSE 0 END, CASE WHEN m & 1024 <> 0 THEN n ELSE 0 END, CASE WHEN m & 2048 <> 0 THEN n ELSE 0 END, CASE WHEN m & 1 <> 0 AND m >= 2 THEN n ELSE 0 END, CASE WHEN m & 2 <> 0 AND m >= 4 THEN n ELSE 0 END, CASE WHEN m & 4 <> 0 AND m >= 8 THEN n ELSE 0 END, CASE WHEN m & 8 <> 0 AND m >= 16 THEN n ELSE 0 END, CASE WHEN m & 16 <> 0 AND m >= 32 THEN n ELSE 0 END, CASE WHEN m & 32 <> 0 AND m >= 64 THEN n ELSE 0 END, CASE WHEN m & 64 <> 0 AND m >= 128 THEN n ELSE 0 END, CASE WHEN m & 128 <> 0 AND m >= 256 THEN n ELSE 0 END, CASE WHEN m & 256 <> 0 AND m >= 512 THEN n ELSE 0 END, CASE WHEN m & 512 <> 0 AND m >= 1024 THEN n ELSE 0 END, CASE WHEN m & 1024 <> 0 AND m >= 2048 THEN n ELSE 0 END, CASE WHEN m & 2048 <> 0 AND m >= 4096 THEN n ELSE 0 END, 0, 0, 0, 0, 0, 0, 0, 0)::metrics_daily $function$
""",
    # metrics_closing_delta
    """
CREATE OR REPLACE FUNCTION public.metrics_closing_delta(day date, pipeline text, owner text, source text, segment text, outcome text, n bigint)
 RETURNS metrics_daily
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT ROW(day, pipeline, owner, source, segment, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, CASE WHEN outcome = 'won' THEN n ELSE 0 END, CASE WHEN outcome = 'lost' THEN n ELSE 0 END, CASE WHEN outcome = 'no_decision' THEN n ELSE 0 END, CASE WHEN outcome = 'recycled' THEN n ELSE 0 END, CASE WHEN outcome = 'disqualified' THEN n ELSE 0 END, CASE WHEN outcome = 'dead' THEN n ELSE 0 END, 0, 0)::metrics_daily $function$
""",
    # metrics_reopen_delta
    """
CREATE OR REPLACE FUNCTION public.metrics_reopen_delta(day date, pipeline text, owner text, source text, segment text, reopened bigint, won bigint)
 RETURNS metrics_daily
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT ROW(day, pipeline, owner, source, segment, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, reopened, won)::metrics_daily $function$
""",
    # metrics_change_facts
    """
CREATE OR REPLACE FUNCTION public.metrics_change_facts(ids bigint[])
 RETURNS TABLE(at timestamp with time zone, created_at timestamp with time zone, entered timestamp with time zone, pipeline text, from_status text, to_status text, from_outcome text, to_outcome text, closes boolean, reason text, competitor text, reopened boolean, owner text, source text, segment text, revisit_at timestamp with time zone, standing_before timestamp with time zone, old_mask integer, new_mask integer, prev_closing lead_status_changes, last_reopen lead_status_changes)
 LANGUAGE sql
 STABLE
AS $function$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.pipeline, c.from_status,
         c.to_status, c.from_outcome, c.to_outcome, c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap', c.reason, c.competitor,
         c.reopened, c.owner, c.source, c.segment, c.revisit_at, p.standing_before, p.old_mask,
         p.old_mask | CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END, p.prev_closing, p.last_reopen
    FROM lead_status_changes c
    JOIN leads l ON l.id = c.lead_id
    LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
    -- What the lead's earlier changes say: when it entered the status it leaves, the stages
    -- it has held, its latest closing and its latest reopening.
    CROSS JOIN LATERAL (
      SELECT (array_agg(q.at ORDER BY q.id DESC))[1] AS entered,
             (array_agg(q.revisit_at ORDER BY q.id DESC))[1] AS standing_before,
             1 | coalesce(bit_or(CASE WHEN q.to_outcome = 'won' THEN 4096 ELSE coalesce(qb.bit, 0) END), 0) AS old_mask,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.to_outcome <> 'open' AND q.reason <> 'pipeline_remap'))[1] AS prev_closing,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.reopened))[1] AS last_reopen
        FROM lead_status_changes q
        LEFT JOIN metrics_stages qb ON qb.pipeline = q.pipeline AND qb.version = q.pipeline_version AND qb.status = q.to_status
       WHERE q.lead_id = c.lead_id AND q.id < c.id) p
   WHERE c.id = ANY(ids)
$function$
""",
    # metrics_on_lead
    """
CREATE OR REPLACE FUNCTION public.metrics_on_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        DECLARE
          mask integer;
          daily metrics_daily[] := '{}';
          pipeline metrics_pipeline[] := '{}';
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status)
          THEN
            pipeline := pipeline || metrics_standing_key(
              OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
              OLD.revisit_at, -1);
          END IF;
          IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
            pipeline := pipeline || metrics_standing_key(
              NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
              NEW.revisit_at, 1);
          END IF;
          IF TG_OP = 'DELETE' OR (OLD.owner, OLD.source, OLD.segment, OLD.created_at)
              IS DISTINCT FROM (NEW.owner, NEW.source, NEW.segment, NEW.created_at) THEN
            mask := metrics_stage_mask(OLD.id);
            daily := daily || metrics_cohort_delta(
              metrics_day(OLD.created_at), OLD.pipeline, OLD.owner, OLD.source, OLD.segment,
              mask, -1);
            IF TG_OP = 'UPDATE' THEN
              daily := daily || metrics_cohort_delta(
                metrics_day(NEW.created_at), NEW.pipeline, NEW.owner, NEW.source, NEW.segment,
                mask, 1);
            END IF;
          END IF;
          INSERT INTO metrics_pending (daily, durations, losses, pipeline)
            VALUES (daily, '{}', '{}', pipeline);
          RETURN NULL;
        END $function$
""",
    # metrics_fold
    """
CREATE OR REPLACE FUNCTION public.metrics_fold()
 RETURNS bigint
 LANGUAGE plpgsql
 SET jit TO 'off'
AS $function$
    DECLARE
      moved bigint;
    BEGIN
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      facts AS (SELECT * FROM metrics_change_facts(ARRAY(SELECT change_id FROM moved_changes))),
      
      pipeline AS (
        INSERT INTO metrics_pipeline AS m (pipeline, status, owner, source, segment, revisit_month, n)
        SELECT pipeline, status, owner, source, segment, revisit_month, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.pipeline) d
UNION ALL

        SELECT (metrics_standing_key(pipeline, from_status, from_outcome, owner, source, segment,
                                     standing_before, -1)).* FROM facts
        UNION ALL
        SELECT (metrics_standing_key(pipeline, to_status, to_outcome, owner, source, segment,
                                     revisit_at, 1)).* FROM facts
UNION ALL

        SELECT (metrics_standing_key(pipeline, status, outcome, owner, source, segment,
                                     revisit_at, count(*)::integer)).*
          FROM moved_leads GROUP BY pipeline, status, outcome, owner, source, segment, revisit_at) d
         GROUP BY pipeline, status, owner, source, segment, revisit_month ORDER BY pipeline, status, owner, source, segment, revisit_month
        ON CONFLICT (pipeline, status, owner, source, segment, revisit_month) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      daily AS (
        INSERT INTO metrics_daily AS m (day, pipeline, owner, source, segment, created, won_now, reached_2, reached_3, reached_4, reached_5, reached_6, reached_7, reached_8, reached_9, reached_10, reached_11, reached_12, went_on_1, went_on_2, went_on_3, went_on_4, went_on_5, went_on_6, went_on_7, went_on_8, went_on_9, went_on_10, went_on_11, went_on_12, closed_won, closed_lost, closed_no_decision, closed_recycled, closed_disqualified, closed_dead, reopened, reopened_won)
        SELECT day, pipeline, owner, source, segment, sum(created), sum(won_now), sum(reached_2), sum(reached_3), sum(reached_4), sum(reached_5), sum(reached_6), sum(reached_7), sum(reached_8), sum(reached_9), sum(reached_10), sum(reached_11), sum(reached_12), sum(went_on_1), sum(went_on_2), sum(went_on_3), sum(went_on_4), sum(went_on_5), sum(went_on_6), sum(went_on_7), sum(went_on_8), sum(went_on_9), sum(went_on_10), sum(went_on_11), sum(went_on_12), sum(closed_won), sum(closed_lost), sum(closed_no_decision), sum(closed_recycled), sum(closed_disqualified), sum(closed_dead), sum(reopened), sum(reopened_won)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.daily) d
UNION ALL

        SELECT (metrics_closing_delta(metrics_day((prev_closing).at), (prev_closing).pipeline, (prev_closing).owner, (prev_closing).source, (prev_closing).segment, (prev_closing).to_outcome, -count(*))).*
          FROM facts WHERE closes AND (prev_closing).id IS NOT NULL
         GROUP BY metrics_day((prev_closing).at), (prev_closing).pipeline, (prev_closing).owner, (prev_closing).source, (prev_closing).segment, (prev_closing).to_outcome
        UNION ALL
        SELECT (metrics_closing_delta(metrics_day(at), pipeline, owner, source, segment,
                                      to_outcome, count(*))).*
          FROM facts WHERE closes
         GROUP BY metrics_day(at), pipeline, owner, source, segment, to_outcome
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day((last_reopen).at), (last_reopen).pipeline, (last_reopen).owner, (last_reopen).source, (last_reopen).segment, 0, count(*))).*
          FROM facts WHERE closes AND to_outcome = 'won' AND (last_reopen).id IS NOT NULL
         GROUP BY metrics_day((last_reopen).at), (last_reopen).pipeline, (last_reopen).owner, (last_reopen).source, (last_reopen).segment
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day(at), pipeline, owner, source, segment, count(*),
                                     0)).*
          FROM facts WHERE reopened
         GROUP BY metrics_day(at), pipeline, owner, source, segment
        UNION ALL
        SELECT (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask,
                                     m.n)).*
          FROM (SELECT metrics_day(created_at) AS day, pipeline, owner, source, segment, old_mask,
                       new_mask, count(*) AS n
                  FROM facts WHERE new_mask <> old_mask
                 GROUP BY 1, 2, 3, 4, 5, 6, 7) g,
               LATERAL (VALUES (g.old_mask, -g.n), (g.new_mask, g.n)) AS m(mask, n)
UNION ALL

        SELECT (metrics_cohort_delta(metrics_day(created_at), pipeline, owner, source, segment,
                                     1, count(*))).*
          FROM moved_leads GROUP BY metrics_day(created_at), pipeline, owner, source, segment) d
         GROUP BY day, pipeline, owner, source, segment ORDER BY day, pipeline, owner, source, segment
        ON CONFLICT (day, pipeline, owner, source, segment) DO UPDATE SET
          created = m.created + excluded.created, won_now = m.won_now + excluded.won_now, reached_2 = m.reached_2 + excluded.reached_2, reached_3 = m.reached_3 + excluded.reached_3, reached_4 = m.reached_4 + excluded.reached_4, reached_5 = m.reached_5 + excluded.reached_5, reached_6 = m.reached_6 + excluded.reached_6, reached_7 = m.reached_7 + excluded.reached_7, reached_8 = m.reached_8 + excluded.reached_8, reached_9 = m.reached_9 + excluded.reached_9, reached_10 = m.reached_10 + excluded.reached_10, reached_11 = m.reached_11 + excluded.reached_11, reached_12 = m.reached_12 + excluded.reached_12, went_on_1 = m.went_on_1 + excluded.went_on_1, went_on_2 = m.went_on_2 + excluded.went_on_2, went_on_3 = m.went_on_3 + excluded.went_on_3, went_on_4 = m.went_on_4 + excluded.went_on_4, went_on_5 = m.went_on_5 + excluded.went_on_5, went_on_6 = m.went_on_6 + excluded.went_on_6, went_on_7 = m.went_on_7 + excluded.went_on_7, went_on_8 = m.went_on_8 + excluded.went_on_8, went_on_9 = m.went_on_9 + excluded.went_on_9, went_on_10 = m.went_on_10 + excluded.went_on_10, went_on_11 = m.went_on_11 + excluded.went_on_11, went_on_12 = m.went_on_12 + excluded.went_on_12, closed_won = m.closed_won + excluded.closed_won, closed_lost = m.closed_lost + excluded.closed_lost, closed_no_decision = m.closed_no_decision + excluded.closed_no_decision, closed_recycled = m.closed_recycled + excluded.closed_recycled, closed_disqualified = m.closed_disqualified + excluded.closed_disqualified, closed_dead = m.closed_dead + excluded.closed_dead, reopened = m.reopened + excluded.reopened, reopened_won = m.reopened_won + excluded.reopened_won
        RETURNING 1),
      durations AS (
        INSERT INTO metrics_durations AS m (measure, dimension, status, day, pipeline, value, days, n)
        SELECT measure, dimension, status, day, pipeline, value, days, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.durations) d
UNION ALL

        SELECT d.*
          FROM (SELECT metrics_day(at) AS day, 'stay' AS measure, from_status AS status,
                       pipeline, owner, source, segment, metrics_days(entered, at) AS days,
                       count(*) AS n
                  FROM facts WHERE from_outcome = 'open'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
                UNION ALL
                SELECT metrics_day(at), 'cycle', 'won', pipeline, owner, source, segment,
                       metrics_days(created_at, at), count(*)
                  FROM facts WHERE closes AND to_outcome = 'won'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.pipeline, g.owner,
                                              g.source, g.segment, g.days, g.n)) d) d
         GROUP BY measure, dimension, status, day, pipeline, value, days ORDER BY measure, dimension, status, day, pipeline, value, days
        ON CONFLICT (measure, dimension, status, day, pipeline, value, days) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      losses AS (
        INSERT INTO metrics_losses AS m (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n)
        SELECT overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.losses) d
UNION ALL

        SELECT o.overall, metrics_day(at), pipeline,
               CASE WHEN o.overall THEN NULL ELSE owner END,
               CASE WHEN o.overall THEN NULL ELSE source END,
               CASE WHEN o.overall THEN NULL ELSE segment END,
               to_outcome, reason, from_status, competitor, count(*)
          FROM facts, (VALUES (false), (true)) o(overall)
         WHERE closes AND to_outcome IN ('lost', 'no_decision')
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) d
         GROUP BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor ORDER BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor
        ON CONFLICT (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1)
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
    $function$
""",
    # metrics_rebuild
    """
CREATE OR REPLACE FUNCTION public.metrics_rebuild()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
    BEGIN
      -- Wait for writers in flight and hold off new ones, so none holds a rollup table
      -- this needs; readers carry on until the TRUNCATE.
      LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE;
      TRUNCATE metrics_pending, metrics_pending_changes, metrics_pending_leads,
               metrics_pipeline, metrics_daily, metrics_durations, metrics_losses;

      CREATE TEMP TABLE latest_closings ON COMMIT DROP AS
        SELECT DISTINCT ON (c.lead_id) c.lead_id, c.at, c.pipeline, c.to_outcome, c.owner,
               c.source, c.segment, l.created_at
          FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
         WHERE c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap'
         ORDER BY c.lead_id, c.id DESC;

      INSERT INTO metrics_daily (day, pipeline, owner, source, segment, created, won_now, reached_2, reached_3, reached_4, reached_5, reached_6, reached_7, reached_8, reached_9, reached_10, reached_11, reached_12, went_on_1, went_on_2, went_on_3, went_on_4, went_on_5, went_on_6, went_on_7, went_on_8, went_on_9, went_on_10, went_on_11, went_on_12, closed_won, closed_lost, closed_no_decision, closed_recycled, closed_disqualified, closed_dead, reopened, reopened_won)
      SELECT d.day, d.pipeline, d.owner, d.source, d.segment, sum(created), sum(won_now), sum(reached_2), sum(reached_3), sum(reached_4), sum(reached_5), sum(reached_6), sum(reached_7), sum(reached_8), sum(reached_9), sum(reached_10), sum(reached_11), sum(reached_12), sum(went_on_1), sum(went_on_2), sum(went_on_3), sum(went_on_4), sum(went_on_5), sum(went_on_6), sum(went_on_7), sum(went_on_8), sum(went_on_9), sum(went_on_10), sum(went_on_11), sum(went_on_12), sum(closed_won), sum(closed_lost), sum(closed_no_decision), sum(closed_recycled), sum(closed_disqualified), sum(closed_dead), sum(reopened), sum(reopened_won)
        FROM (
          SELECT 'cohort' AS kind, metrics_day(l.created_at) AS day, l.pipeline, l.owner,
                 l.source, l.segment, coalesce(r.mask, 1) AS mask, NULL AS outcome,
                 count(*) AS n
            FROM leads l
            LEFT JOIN (SELECT c.lead_id, 1 | bit_or(CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END) AS mask
                         FROM lead_status_changes c LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
                        GROUP BY c.lead_id) r ON r.lead_id = l.id
           GROUP BY 2, 3, 4, 5, 6, 7
          UNION ALL
          SELECT 'closing', metrics_day(at), pipeline, owner, source, segment, 0, to_outcome,
                 count(*)
            FROM latest_closings GROUP BY 2, 3, 4, 5, 6, 8
          UNION ALL
          SELECT 'reopened', metrics_day(at), pipeline, owner, source, segment, 0, NULL, count(*)
            FROM lead_status_changes WHERE reopened GROUP BY 2, 3, 4, 5, 6
          UNION ALL
          SELECT 'reopened_won', metrics_day(at), pipeline, owner, source, segment, 0, NULL,
                 count(*)
            FROM (SELECT DISTINCT ON (c.lead_id) c.at, c.pipeline, c.owner, c.source, c.segment
                    FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
                   WHERE c.reopened AND l.outcome = 'won'
                   ORDER BY c.lead_id, c.id DESC) last_reopenings
           GROUP BY 2, 3, 4, 5, 6
        ) g,
        LATERAL (
          SELECT * FROM metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, g.mask, g.n) WHERE g.kind = 'cohort'
          UNION ALL
          SELECT * FROM metrics_closing_delta(g.day, g.pipeline, g.owner, g.source, g.segment, g.outcome, g.n) WHERE g.kind = 'closing'
          UNION ALL
          SELECT * FROM metrics_reopen_delta(g.day, g.pipeline, g.owner, g.source, g.segment,
                                             CASE g.kind WHEN 'reopened' THEN g.n ELSE 0 END,
                                             CASE g.kind WHEN 'reopened_won' THEN g.n ELSE 0 END)
           WHERE g.kind IN ('reopened', 'reopened_won')
        ) d
       GROUP BY d.day, d.pipeline, d.owner, d.source, d.segment;

      INSERT INTO metrics_durations (measure, dimension, status, day, pipeline, value, days, n)
      SELECT measure, dimension, status, day, pipeline, value, days, sum(n)
        FROM (
          SELECT unnest(metrics_duration_deltas(metrics_day(at), 'cycle', 'won', pipeline,
                                                owner, source, segment,
                                                metrics_days(created_at, at), count(*))) AS d
            FROM latest_closings WHERE to_outcome = 'won'
           GROUP BY metrics_day(at), pipeline, owner, source, segment,
                    metrics_days(created_at, at)
          UNION ALL
          SELECT unnest(metrics_duration_deltas(day, 'stay', from_status, pipeline, owner,
                                                source, segment, days, count(*)))
            FROM (SELECT metrics_day(c.at) AS day, c.pipeline, c.from_status, c.from_outcome,
                         c.owner, c.source, c.segment,
                         metrics_days(coalesce(lag(c.at) OVER (PARTITION BY c.lead_id
                                                              ORDER BY c.id),
                                               l.created_at), c.at) AS days
                    FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id) stays
           WHERE from_outcome = 'open'
           GROUP BY day, pipeline, from_status, owner, source, segment, days
        ) deltas, LATERAL (SELECT (deltas.d).*) x
       GROUP BY measure, dimension, status, day, pipeline, value, days;

      INSERT INTO metrics_losses (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n)
      SELECT o.overall, metrics_day(at), pipeline, CASE WHEN o.overall THEN NULL ELSE owner END,
             CASE WHEN o.overall THEN NULL ELSE source END,
             CASE WHEN o.overall THEN NULL ELSE segment END,
             to_outcome, reason, from_status, competitor, count(*)
        FROM lead_status_changes, (VALUES (false), (true)) o(overall)
       WHERE to_outcome <> 'open' AND reason <> 'pipeline_remap' AND to_outcome IN ('lost', 'no_decision')
       GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

      INSERT INTO metrics_pipeline (pipeline, status, owner, source, segment, revisit_month, n)
      SELECT k.pipeline, k.status, k.owner, k.source, k.segment, k.revisit_month, count(*)
        FROM leads l,
             LATERAL metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                          l.segment, l.revisit_at, 1) k
       GROUP BY 1, 2, 3, 4, 5, 6;
      DROP TABLE latest_closings;
    END $function$
""",
    # metrics_pipeline_now
    """
CREATE OR REPLACE VIEW metrics_pipeline_now AS
 SELECT metrics_pipeline.pipeline,
    metrics_pipeline.status,
    metrics_pipeline.owner,
    metrics_pipeline.source,
    metrics_pipeline.segment,
    metrics_pipeline.revisit_month,
    metrics_pipeline.n
   FROM metrics_pipeline
UNION ALL
 SELECT pending.pipeline,
    pending.status,
    pending.owner,
    pending.source,
    pending.segment,
    pending.revisit_month,
    pending.n
   FROM ( WITH facts AS MATERIALIZED (
                 SELECT metrics_change_facts.at,
                    metrics_change_facts.created_at,
                    metrics_change_facts.entered,
                    metrics_change_facts.pipeline,
                    metrics_change_facts.from_status,
                    metrics_change_facts.to_status,
                    metrics_change_facts.from_outcome,
                    metrics_change_facts.to_outcome,
                    metrics_change_facts.closes,
                    metrics_change_facts.reason,
                    metrics_change_facts.competitor,
                    metrics_change_facts.reopened,
                    metrics_change_facts.owner,
                    metrics_change_facts.source,
                    metrics_change_facts.segment,
                    metrics_change_facts.revisit_at,
                    metrics_change_facts.standing_before,
                    metrics_change_facts.old_mask,
                    metrics_change_facts.new_mask,
                    metrics_change_facts.prev_closing,
                    metrics_change_facts.last_reopen
                   FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                           FROM metrics_pending_changes)) metrics_change_facts(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)
                )
         SELECT d.pipeline,
            d.status,
            d.owner,
            d.source,
            d.segment,
            d.revisit_month,
            d.n
           FROM metrics_pending p,
            LATERAL unnest(p.pipeline) d(pipeline, status, owner, source, segment, revisit_month, n)
        UNION ALL
         SELECT (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).pipeline AS pipeline,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).status AS status,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).owner AS owner,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).source AS source,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).segment AS segment,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).revisit_month AS revisit_month,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).n AS n
           FROM facts
        UNION ALL
         SELECT (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).pipeline AS pipeline,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).status AS status,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).owner AS owner,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).source AS source,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).segment AS segment,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).revisit_month AS revisit_month,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).n AS n
           FROM facts
        UNION ALL
         SELECT (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).pipeline AS pipeline,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).status AS status,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).owner AS owner,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).source AS source,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).segment AS segment,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).revisit_month AS revisit_month,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).n AS n
           FROM metrics_pending_leads
          GROUP BY metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at) pending
""",
    # metrics_daily_now
    """
CREATE OR REPLACE VIEW metrics_daily_now AS
 SELECT metrics_daily.day,
    metrics_daily.pipeline,
    metrics_daily.owner,
    metrics_daily.source,
    metrics_daily.segment,
    metrics_daily.created,
    metrics_daily.won_now,
    metrics_daily.reached_2,
    metrics_daily.reached_3,
    metrics_daily.reached_4,
    metrics_daily.reached_5,
    metrics_daily.reached_6,
    metrics_daily.reached_7,
    metrics_daily.reached_8,
    metrics_daily.reached_9,
    metrics_daily.reached_10,
    metrics_daily.reached_11,
    metrics_daily.reached_12,
    metrics_daily.went_on_1,
    metrics_daily.went_on_2,
    metrics_daily.went_on_3,
    metrics_daily.went_on_4,
    metrics_daily.went_on_5,
    metrics_daily.went_on_6,
    metrics_daily.went_on_7,
    metrics_daily.went_on_8,
    metrics_daily.went_on_9,
    metrics_daily.went_on_10,
    metrics_daily.went_on_11,
    metrics_daily.went_on_12,
    metrics_daily.closed_won,
    metrics_daily.closed_lost,
    metrics_daily.closed_no_decision,
    metrics_daily.closed_recycled,
    metrics_daily.closed_disqualified,
    metrics_daily.closed_dead,
    metrics_daily.reopened,
    metrics_daily.reopened_won
   FROM metrics_daily
UNION ALL
 SELECT pending.day,
    pending.pipeline,
    pending.owner,
    pending.source,
    pending.segment,
    pending.created,
    pending.won_now,
    pending.reached_2,
    pending.reached_3,
    pending.reached_4,
    pending.reached_5,
    pending.reached_6,
    pending.reached_7,
    pending.reached_8,
    pending.reached_9,
    pending.reached_10,
    pending.reached_11,
    pending.reached_12,
    pending.went_on_1,
    pending.went_on_2,
    pending.went_on_3,
    pending.went_on_4,
    pending.went_on_5,
    pending.went_on_6,
    pending.went_on_7,
    pending.went_on_8,
    pending.went_on_9,
    pending.went_on_10,
    pending.went_on_11,
    pending.went_on_12,
    pending.closed_won,
    pending.closed_lost,
    pending.closed_no_decision,
    pending.closed_recycled,
    pending.closed_disqualified,
    pending.closed_dead,
    pending.reopened,
    pending.reopened_won
   FROM ( WITH facts AS MATERIALIZED (
                 SELECT metrics_change_facts.at,
                    metrics_change_facts.created_at,
                    metrics_change_facts.entered,
                    metrics_change_facts.pipeline,
                    metrics_change_facts.from_status,
                    metrics_change_facts.to_status,
                    metrics_change_facts.from_outcome,
                    metrics_change_facts.to_outcome,
                    metrics_change_facts.closes,
                    metrics_change_facts.reason,
                    metrics_change_facts.competitor,
                    metrics_change_facts.reopened,
                    metrics_change_facts.owner,
                    metrics_change_facts.source,
                    metrics_change_facts.segment,
                    metrics_change_facts.revisit_at,
                    metrics_change_facts.standing_before,
                    metrics_change_facts.old_mask,
                    metrics_change_facts.new_mask,
                    metrics_change_facts.prev_closing,
                    metrics_change_facts.last_reopen
                   FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                           FROM metrics_pending_changes)) metrics_change_facts(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)
                )
         SELECT d.day,
            d.pipeline,
            d.owner,
            d.source,
            d.segment,
            d.created,
            d.won_now,
            d.reached_2,
            d.reached_3,
            d.reached_4,
            d.reached_5,
            d.reached_6,
            d.reached_7,
            d.reached_8,
            d.reached_9,
            d.reached_10,
            d.reached_11,
            d.reached_12,
            d.went_on_1,
            d.went_on_2,
            d.went_on_3,
            d.went_on_4,
            d.went_on_5,
            d.went_on_6,
            d.went_on_7,
            d.went_on_8,
            d.went_on_9,
            d.went_on_10,
            d.went_on_11,
            d.went_on_12,
            d.closed_won,
            d.closed_lost,
            d.closed_no_decision,
            d.closed_recycled,
            d.closed_disqualified,
            d.closed_dead,
            d.reopened,
            d.reopened_won
           FROM metrics_pending p,
            LATERAL unnest(p.daily) d(day, pipeline, owner, source, segment, created, won_now, reached_2, reached_3, reached_4, reached_5, reached_6, reached_7, reached_8, reached_9, reached_10, reached_11, reached_12, went_on_1, went_on_2, went_on_3, went_on_4, went_on_5, went_on_6, went_on_7, went_on_8, went_on_9, went_on_10, went_on_11, went_on_12, closed_won, closed_lost, closed_no_decision, closed_recycled, closed_disqualified, closed_dead, reopened, reopened_won)
        UNION ALL
         SELECT (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).day AS day,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).pipeline AS pipeline,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).owner AS owner,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).source AS source,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).segment AS segment,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).created AS created,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).won_now AS won_now,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_2 AS reached_2,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_3 AS reached_3,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_4 AS reached_4,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_5 AS reached_5,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_6 AS reached_6,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_7 AS reached_7,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_8 AS reached_8,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_9 AS reached_9,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_10 AS reached_10,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_11 AS reached_11,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reached_12 AS reached_12,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_1 AS went_on_1,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_2 AS went_on_2,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_3 AS went_on_3,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_4 AS went_on_4,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_5 AS went_on_5,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_6 AS went_on_6,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_7 AS went_on_7,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_8 AS went_on_8,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_9 AS went_on_9,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_10 AS went_on_10,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_11 AS went_on_11,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).went_on_12 AS went_on_12,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).closed_won AS closed_won,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).closed_lost AS closed_lost,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).closed_no_decision AS closed_no_decision,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).closed_recycled AS closed_recycled,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).closed_disqualified AS closed_disqualified,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).closed_dead AS closed_dead,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reopened AS reopened,
            (metrics_closing_delta(metrics_day((facts.prev_closing).at), (facts.prev_closing).pipeline, (facts.prev_closing).owner, (facts.prev_closing).source, (facts.prev_closing).segment, (facts.prev_closing).to_outcome, - count(*))).reopened_won AS reopened_won
           FROM facts
          WHERE facts.closes AND (facts.prev_closing).id IS NOT NULL
          GROUP BY (metrics_day((facts.prev_closing).at)), ((facts.prev_closing).pipeline), ((facts.prev_closing).owner), ((facts.prev_closing).source), ((facts.prev_closing).segment), ((facts.prev_closing).to_outcome)
        UNION ALL
         SELECT (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).day AS day,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).pipeline AS pipeline,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).owner AS owner,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).source AS source,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).segment AS segment,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).created AS created,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).won_now AS won_now,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_2 AS reached_2,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_3 AS reached_3,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_4 AS reached_4,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_5 AS reached_5,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_6 AS reached_6,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_7 AS reached_7,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_8 AS reached_8,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_9 AS reached_9,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_10 AS reached_10,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_11 AS reached_11,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reached_12 AS reached_12,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_1 AS went_on_1,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_2 AS went_on_2,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_3 AS went_on_3,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_4 AS went_on_4,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_5 AS went_on_5,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_6 AS went_on_6,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_7 AS went_on_7,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_8 AS went_on_8,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_9 AS went_on_9,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_10 AS went_on_10,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_11 AS went_on_11,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).went_on_12 AS went_on_12,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).closed_won AS closed_won,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).closed_lost AS closed_lost,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).closed_no_decision AS closed_no_decision,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).closed_recycled AS closed_recycled,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).closed_disqualified AS closed_disqualified,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).closed_dead AS closed_dead,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reopened AS reopened,
            (metrics_closing_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome, count(*))).reopened_won AS reopened_won
           FROM facts
          WHERE facts.closes
          GROUP BY (metrics_day(facts.at)), facts.pipeline, facts.owner, facts.source, facts.segment, facts.to_outcome
        UNION ALL
         SELECT (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).day AS day,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).pipeline AS pipeline,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).owner AS owner,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).source AS source,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).segment AS segment,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).created AS created,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).won_now AS won_now,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_2 AS reached_2,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_3 AS reached_3,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_4 AS reached_4,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_5 AS reached_5,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_6 AS reached_6,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_7 AS reached_7,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_8 AS reached_8,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_9 AS reached_9,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_10 AS reached_10,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_11 AS reached_11,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reached_12 AS reached_12,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_1 AS went_on_1,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_2 AS went_on_2,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_3 AS went_on_3,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_4 AS went_on_4,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_5 AS went_on_5,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_6 AS went_on_6,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_7 AS went_on_7,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_8 AS went_on_8,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_9 AS went_on_9,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_10 AS went_on_10,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_11 AS went_on_11,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).went_on_12 AS went_on_12,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).closed_won AS closed_won,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).closed_lost AS closed_lost,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).closed_no_decision AS closed_no_decision,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).closed_recycled AS closed_recycled,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).closed_disqualified AS closed_disqualified,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).closed_dead AS closed_dead,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reopened AS reopened,
            (metrics_reopen_delta(metrics_day((facts.last_reopen).at), (facts.last_reopen).pipeline, (facts.last_reopen).owner, (facts.last_reopen).source, (facts.last_reopen).segment, 0::bigint, count(*))).reopened_won AS reopened_won
           FROM facts
          WHERE facts.closes AND facts.to_outcome = 'won'::text AND (facts.last_reopen).id IS NOT NULL
          GROUP BY (metrics_day((facts.last_reopen).at)), ((facts.last_reopen).pipeline), ((facts.last_reopen).owner), ((facts.last_reopen).source), ((facts.last_reopen).segment)
        UNION ALL
         SELECT (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).day AS day,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).pipeline AS pipeline,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).owner AS owner,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).source AS source,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).segment AS segment,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).created AS created,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).won_now AS won_now,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_2 AS reached_2,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_3 AS reached_3,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_4 AS reached_4,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_5 AS reached_5,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_6 AS reached_6,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_7 AS reached_7,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_8 AS reached_8,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_9 AS reached_9,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_10 AS reached_10,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_11 AS reached_11,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reached_12 AS reached_12,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_1 AS went_on_1,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_2 AS went_on_2,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_3 AS went_on_3,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_4 AS went_on_4,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_5 AS went_on_5,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_6 AS went_on_6,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_7 AS went_on_7,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_8 AS went_on_8,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_9 AS went_on_9,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_10 AS went_on_10,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_11 AS went_on_11,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).went_on_12 AS went_on_12,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).closed_won AS closed_won,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).closed_lost AS closed_lost,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).closed_no_decision AS closed_no_decision,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).closed_recycled AS closed_recycled,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).closed_disqualified AS closed_disqualified,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).closed_dead AS closed_dead,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reopened AS reopened,
            (metrics_reopen_delta(metrics_day(facts.at), facts.pipeline, facts.owner, facts.source, facts.segment, count(*), 0::bigint)).reopened_won AS reopened_won
           FROM facts
          WHERE facts.reopened
          GROUP BY (metrics_day(facts.at)), facts.pipeline, facts.owner, facts.source, facts.segment
        UNION ALL
         SELECT (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).day AS day,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).pipeline AS pipeline,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).owner AS owner,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).source AS source,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).segment AS segment,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).created AS created,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).won_now AS won_now,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_2 AS reached_2,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_3 AS reached_3,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_4 AS reached_4,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_5 AS reached_5,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_6 AS reached_6,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_7 AS reached_7,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_8 AS reached_8,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_9 AS reached_9,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_10 AS reached_10,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_11 AS reached_11,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reached_12 AS reached_12,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_1 AS went_on_1,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_2 AS went_on_2,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_3 AS went_on_3,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_4 AS went_on_4,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_5 AS went_on_5,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_6 AS went_on_6,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_7 AS went_on_7,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_8 AS went_on_8,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_9 AS went_on_9,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_10 AS went_on_10,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_11 AS went_on_11,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).went_on_12 AS went_on_12,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).closed_won AS closed_won,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).closed_lost AS closed_lost,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).closed_no_decision AS closed_no_decision,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).closed_recycled AS closed_recycled,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).closed_disqualified AS closed_disqualified,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).closed_dead AS closed_dead,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reopened AS reopened,
            (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask, m.n)).reopened_won AS reopened_won
           FROM ( SELECT metrics_day(facts.created_at) AS day,
                    facts.pipeline,
                    facts.owner,
                    facts.source,
                    facts.segment,
                    facts.old_mask,
                    facts.new_mask,
                    count(*) AS n
                   FROM facts
                  WHERE facts.new_mask <> facts.old_mask
                  GROUP BY (metrics_day(facts.created_at)), facts.pipeline, facts.owner, facts.source, facts.segment, facts.old_mask, facts.new_mask) g,
            LATERAL ( VALUES (g.old_mask,- g.n), (g.new_mask,g.n)) m(mask, n)
        UNION ALL
         SELECT (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).day AS day,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).pipeline AS pipeline,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).owner AS owner,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).source AS source,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).segment AS segment,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).created AS created,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).won_now AS won_now,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_2 AS reached_2,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_3 AS reached_3,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_4 AS reached_4,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_5 AS reached_5,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_6 AS reached_6,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_7 AS reached_7,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_8 AS reached_8,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_9 AS reached_9,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_10 AS reached_10,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_11 AS reached_11,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reached_12 AS reached_12,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_1 AS went_on_1,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_2 AS went_on_2,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_3 AS went_on_3,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_4 AS went_on_4,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_5 AS went_on_5,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_6 AS went_on_6,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_7 AS went_on_7,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_8 AS went_on_8,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_9 AS went_on_9,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_10 AS went_on_10,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_11 AS went_on_11,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).went_on_12 AS went_on_12,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).closed_won AS closed_won,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).closed_lost AS closed_lost,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).closed_no_decision AS closed_no_decision,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).closed_recycled AS closed_recycled,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).closed_disqualified AS closed_disqualified,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).closed_dead AS closed_dead,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reopened AS reopened,
            (metrics_cohort_delta(metrics_day(metrics_pending_leads.created_at), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, 1, count(*))).reopened_won AS reopened_won
           FROM metrics_pending_leads
          GROUP BY (metrics_day(metrics_pending_leads.created_at)), metrics_pending_leads.pipeline, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment) pending
""",
    # metrics_durations_now
    """
CREATE OR REPLACE VIEW metrics_durations_now AS
 SELECT metrics_durations.measure,
    metrics_durations.dimension,
    metrics_durations.status,
    metrics_durations.day,
    metrics_durations.pipeline,
    metrics_durations.value,
    metrics_durations.days,
    metrics_durations.n
   FROM metrics_durations
UNION ALL
 SELECT pending.measure,
    pending.dimension,
    pending.status,
    pending.day,
    pending.pipeline,
    pending.value,
    pending.days,
    pending.n
   FROM ( WITH facts AS MATERIALIZED (
                 SELECT metrics_change_facts.at,
                    metrics_change_facts.created_at,
                    metrics_change_facts.entered,
                    metrics_change_facts.pipeline,
                    metrics_change_facts.from_status,
                    metrics_change_facts.to_status,
                    metrics_change_facts.from_outcome,
                    metrics_change_facts.to_outcome,
                    metrics_change_facts.closes,
                    metrics_change_facts.reason,
                    metrics_change_facts.competitor,
                    metrics_change_facts.reopened,
                    metrics_change_facts.owner,
                    metrics_change_facts.source,
                    metrics_change_facts.segment,
                    metrics_change_facts.revisit_at,
                    metrics_change_facts.standing_before,
                    metrics_change_facts.old_mask,
                    metrics_change_facts.new_mask,
                    metrics_change_facts.prev_closing,
                    metrics_change_facts.last_reopen
                   FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                           FROM metrics_pending_changes)) metrics_change_facts(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)
                )
         SELECT d.measure,
            d.dimension,
            d.status,
            d.day,
            d.pipeline,
            d.value,
            d.days,
            d.n
           FROM metrics_pending p,
            LATERAL unnest(p.durations) d(measure, dimension, status, day, pipeline, value, days, n)
        UNION ALL
         SELECT d.measure,
            d.dimension,
            d.status,
            d.day,
            d.pipeline,
            d.value,
            d.days,
            d.n
           FROM ( SELECT metrics_day(facts.at) AS day,
                    'stay'::text AS measure,
                    facts.from_status AS status,
                    facts.pipeline,
                    facts.owner,
                    facts.source,
                    facts.segment,
                    metrics_days(facts.entered, facts.at) AS days,
                    count(*) AS n
                   FROM facts
                  WHERE facts.from_outcome = 'open'::text
                  GROUP BY (metrics_day(facts.at)), 'stay'::text, facts.from_status, facts.pipeline, facts.owner, facts.source, facts.segment, (metrics_days(facts.entered, facts.at))
                UNION ALL
                 SELECT metrics_day(facts.at) AS metrics_day,
                    'cycle',
                    'won',
                    facts.pipeline,
                    facts.owner,
                    facts.source,
                    facts.segment,
                    metrics_days(facts.created_at, facts.at) AS metrics_days,
                    count(*) AS count
                   FROM facts
                  WHERE facts.closes AND facts.to_outcome = 'won'::text
                  GROUP BY (metrics_day(facts.at)), 'cycle'::text, 'won'::text, facts.pipeline, facts.owner, facts.source, facts.segment, (metrics_days(facts.created_at, facts.at))) g,
            LATERAL unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.pipeline, g.owner, g.source, g.segment, g.days, g.n)) d(measure, dimension, status, day, pipeline, value, days, n)) pending
""",
    # metrics_losses_now
    """
CREATE OR REPLACE VIEW metrics_losses_now AS
 SELECT metrics_losses.overall,
    metrics_losses.day,
    metrics_losses.pipeline,
    metrics_losses.owner,
    metrics_losses.source,
    metrics_losses.segment,
    metrics_losses.status,
    metrics_losses.reason,
    metrics_losses.from_status,
    metrics_losses.competitor,
    metrics_losses.n
   FROM metrics_losses
UNION ALL
 SELECT pending.overall,
    pending.day,
    pending.pipeline,
    pending.owner,
    pending.source,
    pending.segment,
    pending.status,
    pending.reason,
    pending.from_status,
    pending.competitor,
    pending.n
   FROM ( WITH facts AS MATERIALIZED (
                 SELECT metrics_change_facts.at,
                    metrics_change_facts.created_at,
                    metrics_change_facts.entered,
                    metrics_change_facts.pipeline,
                    metrics_change_facts.from_status,
                    metrics_change_facts.to_status,
                    metrics_change_facts.from_outcome,
                    metrics_change_facts.to_outcome,
                    metrics_change_facts.closes,
                    metrics_change_facts.reason,
                    metrics_change_facts.competitor,
                    metrics_change_facts.reopened,
                    metrics_change_facts.owner,
                    metrics_change_facts.source,
                    metrics_change_facts.segment,
                    metrics_change_facts.revisit_at,
                    metrics_change_facts.standing_before,
                    metrics_change_facts.old_mask,
                    metrics_change_facts.new_mask,
                    metrics_change_facts.prev_closing,
                    metrics_change_facts.last_reopen
                   FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                           FROM metrics_pending_changes)) metrics_change_facts(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)
                )
         SELECT d.overall,
            d.day,
            d.pipeline,
            d.owner,
            d.source,
            d.segment,
            d.status,
            d.reason,
            d.from_status,
            d.competitor,
            d.n
           FROM metrics_pending p,
            LATERAL unnest(p.losses) d(overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n)
        UNION ALL
         SELECT o.overall,
            metrics_day(facts.at) AS metrics_day,
            facts.pipeline,
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.owner
                END AS owner,
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.source
                END AS source,
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.segment
                END AS segment,
            facts.to_outcome,
            facts.reason,
            facts.from_status,
            facts.competitor,
            count(*) AS count
           FROM facts,
            ( VALUES (false), (true)) o(overall)
          WHERE facts.closes AND (facts.to_outcome = ANY (ARRAY['lost'::text, 'no_decision'::text]))
          GROUP BY o.overall, (metrics_day(facts.at)), facts.pipeline, (
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.owner
                END), (
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.source
                END), (
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.segment
                END), facts.to_outcome, facts.reason, facts.from_status, facts.competitor) pending
""",
]
