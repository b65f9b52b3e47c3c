"""The metrics rollups speak of outcomes and pipelines, never of status names.

Until now the rollups' functions listed the default workflow's statuses: closings were changes
into one of six names, the funnel had a bit per name, the pipeline standing knew which names were
closed. With pipelines (0012) a status is the customer's key and its meaning is its **outcome**,
recorded on every history row as it was. Now:

* Closings, wins, losses and no-decisions are counted by `to_outcome` (the `closed_<outcome>`
  columns of `metrics_daily` keep their names and now mean "closed with that outcome");
  `metrics_losses.status` holds the outcome, `from_status` the status key it was lost from. The
  standing (`metrics_pipeline`) and the nurture queue key on the outcome.
* Every rollup, and the queue of new leads, is keyed by `pipeline` too.
* The funnel counts stages by **position**: stage i of a change is the i-th open status, by
  position, of the pipeline version it was decided under (`metrics_stages`), plus one stage for
  the won outcome. `metrics_daily`'s stage columns are positional (`reached_2`..`reached_12`,
  `went_on_1`..`went_on_12`; stage 1 is where every lead enters, so its reach is `created`): a
  pipeline's first 12 open statuses are its funnel. Existing rows keep their meaning (default's
  new, contacted, qualified, negotiating are its stages 1 to 4).
* A change a pipeline edit made (reason `pipeline_remap`, from_outcome = to_outcome) moves the
  lead's standing and ends its stay in the status it leaves, but is no closing, loss, cycle time
  or reopening: the lead's closing stays the earlier one.

The write path is unchanged: writers only append to `metrics_pending_changes` and
`metrics_pending_leads` (or, for a rare edit or delete, `metrics_pending`);
`metrics_change_facts()` derives what pending changes add in one pass over their history, each
rollup's deltas are summed from those facts in groups, the `<rollup>_now` views and the fold share
that SQL, and the fold stays one PL/pgSQL statement without JIT compilation (see 0004, 0008).

Existing rollup rows are carried over as they are (pipeline `default`) when the whole history is
on `default` version 1 without remaps, which is what 0012 left; otherwise they are rebuilt from
the history.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

from sqlalchemy import text

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "open"
WON = "won"
CLOSING = ("won", "lost", "no_decision", "recycled", "disqualified", "dead")
"""The closing outcomes, a fixed vocabulary (app.pipelines.workflow.Outcome)."""
LOSSES = ("lost", "no_decision")
REMAP = "pipeline_remap"
"""The reserved reason of a change a pipeline edit made."""
STAGES = 12
"""Open positions the funnel counts; bit i - 1 of a stage mask says a lead held stage i."""
WON_BIT = 1 << STAGES

COHORT = (
    "created",
    "won_now",
    *(f"reached_{i}" for i in range(2, STAGES + 1)),
    *(f"went_on_{i}" for i in range(1, STAGES + 1)),
)
ACTIVITY = (*(f"closed_{o}" for o in CLOSING), "reopened", "reopened_won")
COUNTS = COHORT + ACTIVITY
DAILY_KEY = ("day", "pipeline", "owner", "source", "segment")
DURATION_KEY = ("measure", "dimension", "status", "day", "pipeline", "value", "days")
LOSS_KEY = (
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
)
PIPELINE_KEY = ("pipeline", "status", "owner", "source", "segment", "revisit_month")
ROLLUPS = {
    "metrics_pipeline": (PIPELINE_KEY, ("n",)),
    "metrics_daily": (DAILY_KEY, COUNTS),
    "metrics_durations": (DURATION_KEY, ("n",)),
    "metrics_losses": (LOSS_KEY, ("n",)),
}
"""Each rollup with its key and its counts, in the order the fold and the rebuild take them; a
table's columns are its key, then its counts. `metrics_pending` holds a rollup's deltas not yet
folded in under its name without `metrics_`."""

# 0012's layout, carried over: the stage columns were named after default's statuses.
OLD_STAGE_COLUMNS = {
    "reached_contacted": "reached_2",
    "reached_qualified": "reached_3",
    "reached_negotiating": "reached_4",
    "went_on_new": "went_on_1",
    "went_on_contacted": "went_on_2",
    "went_on_qualified": "went_on_3",
    "went_on_negotiating": "went_on_4",
}


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


CLOSES = f"{{0}}to_outcome <> '{OPEN}' AND {{0}}reason <> '{REMAP}'"
"""A change that closes a lead (or closes it anew): into a closed outcome, not a remap."""


def _closes(alias: str = "") -> str:
    return CLOSES.format(f"{alias}." if alias else "")


def _bit(change: str, stage: str) -> str:
    """The stage bit of history row `change`, whose open status's stage row is `stage`."""
    won = f"{change}.to_outcome = '{WON}'"
    return f"CASE WHEN {won} THEN {WON_BIT} ELSE coalesce({stage}.bit, 0) END"


def _stage_join(change: str, stage: str) -> str:
    return (
        f"LEFT JOIN metrics_stages {stage} ON {stage}.pipeline = {change}.pipeline"
        f" AND {stage}.version = {change}.pipeline_version AND {stage}.status = {change}.to_status"
    )


def _cohort_expressions() -> list[str]:
    """Each cohort count of one lead with stage mask `m`, times `n`: a stage is `went on` from
    when a later stage (a higher bit) is held too."""
    exprs = ["n", f"CASE WHEN m & {WON_BIT} <> 0 THEN n ELSE 0 END"]
    exprs += [f"CASE WHEN m & {1 << (i - 1)} <> 0 THEN n ELSE 0 END" for i in range(2, STAGES + 1)]
    exprs += [
        f"CASE WHEN m & {1 << (i - 1)} <> 0 AND m >= {1 << i} THEN n ELSE 0 END"
        for i in range(1, STAGES + 1)
    ]
    return exprs


def _row(values: dict[str, str]) -> str:
    cells = ", ".join(values.get(c, "0") for c in COUNTS)
    return f"ROW(day, pipeline, owner, source, segment, {cells})::metrics_daily"


STAGE_VIEW = f"""
CREATE VIEW metrics_stages AS
  SELECT pipeline, version, key AS status, stage,
         CASE WHEN stage <= {STAGES} THEN 1 << (stage - 1) ELSE 0 END AS bit
    FROM pipeline_statuses WHERE stage IS NOT NULL
"""
"""Each open status of each pipeline version with its funnel stage (its rank among the version's
open statuses, by position, stored with the version) and that stage's bit (none past the
funnel's last stage). A plain projection, so a join on (pipeline, version, status) is one
primary-key lookup: the fold joins it for every change and every earlier change of its lead."""


def _functions() -> list[str]:
    cohort = dict(zip(COHORT, _cohort_expressions(), strict=True))
    closing = {f"closed_{o}": f"CASE WHEN outcome = '{o}' THEN n ELSE 0 END" for o in CLOSING}
    reopen = {"reopened": "reopened", "reopened_won": "won"}
    dims = "pipeline text, owner text, source text, segment text"
    return [
        f"""
        CREATE FUNCTION metrics_cohort_delta(day date, {dims}, m integer, n bigint)
        RETURNS metrics_daily LANGUAGE sql IMMUTABLE AS $$ SELECT {_row(cohort)} $$
        """,
        f"""
        CREATE FUNCTION metrics_closing_delta(day date, {dims}, outcome text, n bigint)
        RETURNS metrics_daily LANGUAGE sql IMMUTABLE AS $$ SELECT {_row(closing)} $$
        """,
        f"""
        CREATE FUNCTION metrics_reopen_delta(day date, {dims}, reopened bigint, won bigint)
        RETURNS metrics_daily LANGUAGE sql IMMUTABLE AS $$ SELECT {_row(reopen)} $$
        """,
        # One duration counted overall and for each of the three dimensions.
        f"""
        CREATE FUNCTION metrics_duration_deltas(
            day date, measure text, status text, {dims}, days integer, n bigint)
        RETURNS metrics_durations[] LANGUAGE sql IMMUTABLE AS $$
          SELECT ARRAY[
            ROW(measure, 'all', status, day, pipeline, NULL, days, n)::metrics_durations,
            ROW(measure, 'owner', status, day, pipeline, owner, days, n)::metrics_durations,
            ROW(measure, 'source', status, day, pipeline, source, days, n)::metrics_durations,
            ROW(measure, 'segment', status, day, pipeline, segment, days, n)::metrics_durations]
        $$
        """,
        # Where a lead stands now: by status, closed ones also by their revisit month.
        f"""
        CREATE FUNCTION metrics_standing_key(
            pipeline text, status text, outcome text, owner text, source text, segment text,
            revisit_at timestamptz, n integer)
        RETURNS metrics_pipeline LANGUAGE sql IMMUTABLE AS $$
          SELECT ROW(pipeline, status, owner, source, segment,
                     CASE WHEN outcome <> '{OPEN}'
                          THEN date_trunc('month', revisit_at AT TIME ZONE 'UTC')::date END,
                     n)::metrics_pipeline
        $$
        """,
        # Stages a lead has held, from its history: the state its cohort counts depend on.
        f"""
        CREATE FUNCTION metrics_stage_mask(lead bigint) RETURNS integer
        LANGUAGE sql STABLE AS $$
          SELECT 1 | coalesce(bit_or({_bit("c", "b")}), 0)
            FROM lead_status_changes c {_stage_join("c", "b")}
           WHERE c.lead_id = lead
        $$
        """,
        FACTS,
        # A new lead only notes itself; its deltas are derived when read or folded.
        """
        CREATE OR REPLACE FUNCTION metrics_on_new_lead() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          INSERT INTO metrics_pending_leads
                 (created_at, pipeline, owner, source, segment, status, outcome, revisit_at)
          VALUES (NEW.created_at, NEW.pipeline, NEW.owner, NEW.source, NEW.segment, NEW.status,
                  NEW.outcome, NEW.revisit_at);
          RETURN NULL;
        END $$
        """,
        # A lead's creation counts for its current dimensions: an edit of owner, source or
        # segment moves it, a deleted lead leaves; an edited revisit date of a lead whose status
        # stays moves its standing (a status change moves it through its own deltas).
        """
        CREATE OR REPLACE FUNCTION metrics_on_lead() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          mask integer;
          daily metrics_daily[] := '{}';
          pipeline metrics_pipeline[] := '{}';
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          IF TG_OP = 'UPDATE' AND OLD.created_at IS DISTINCT FROM NEW.created_at
              AND EXISTS (SELECT 1 FROM lead_status_changes WHERE lead_id = OLD.id) THEN
            -- Durations were measured from the old creation time: the history would lie.
            RAISE EXCEPTION 'the creation time of lead % cannot change once it has status changes',
              OLD.id USING ERRCODE = 'check_violation';
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
        END $$
        """,
        _fold(),
        _rebuild(),
    ]


FACTS = f"""
CREATE FUNCTION metrics_change_facts(ids bigint[])
RETURNS TABLE (
  at timestamptz, created_at timestamptz, entered timestamptz, pipeline text, from_status text,
  to_status text, from_outcome text, to_outcome text, closes boolean, reason text,
  competitor text, reopened boolean, owner text, source text, segment text,
  revisit_at timestamptz, standing_before timestamptz, old_mask integer, new_mask integer,
  prev_closing lead_status_changes, last_reopen lead_status_changes)
LANGUAGE sql STABLE AS $$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.pipeline, c.from_status,
         c.to_status, c.from_outcome, c.to_outcome, {_closes("c")}, c.reason, c.competitor,
         c.reopened, c.owner, c.source, c.segment, c.revisit_at, p.standing_before, p.old_mask,
         p.old_mask | {_bit("c", "b")}, p.prev_closing, p.last_reopen
    FROM lead_status_changes c
    JOIN leads l ON l.id = c.lead_id
    {_stage_join("c", "b")}
    -- What the lead's earlier changes say: when it entered the status it leaves, the stages
    -- it has held, its latest closing and its latest reopening.
    CROSS JOIN LATERAL (
      SELECT (array_agg(q.at ORDER BY q.id DESC))[1] AS entered,
             (array_agg(q.revisit_at ORDER BY q.id DESC))[1] AS standing_before,
             1 | coalesce(bit_or({_bit("q", "qb")}), 0) AS old_mask,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE {_closes("q")}))[1] AS prev_closing,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.reopened))[1] AS last_reopen
        FROM lead_status_changes q
        {_stage_join("q", "qb")}
       WHERE q.lead_id = c.lead_id AND q.id < c.id) p
   WHERE c.id = ANY(ids)
$$
"""
"""What each of the status changes `ids` adds, read from its earlier history in one pass."""


def _change_rows(table: str, facts: str) -> str:
    """Rows of `table` that the status changes in relation `facts` add (not yet summed by key)."""
    if table == "metrics_pipeline":
        # The lead leaves one standing for another (a remap too).
        return f"""
        SELECT (metrics_standing_key(pipeline, from_status, from_outcome, owner, source, segment,
                                     standing_before, -1)).* FROM {facts}
        UNION ALL
        SELECT (metrics_standing_key(pipeline, to_status, to_outcome, owner, source, segment,
                                     revisit_at, 1)).* FROM {facts}"""
    if table == "metrics_daily":
        prev, last = "prev_closing", "last_reopen"

        def at(row: str) -> str:
            return (
                f"metrics_day(({row}).at), ({row}).pipeline, ({row}).owner, ({row}).source,"
                f" ({row}).segment"
            )

        return f"""
        SELECT (metrics_closing_delta({at(prev)}, ({prev}).to_outcome, -count(*))).*
          FROM {facts} WHERE closes AND ({prev}).id IS NOT NULL
         GROUP BY {at(prev)}, ({prev}).to_outcome
        UNION ALL
        SELECT (metrics_closing_delta(metrics_day(at), pipeline, owner, source, segment,
                                      to_outcome, count(*))).*
          FROM {facts} WHERE closes
         GROUP BY metrics_day(at), pipeline, owner, source, segment, to_outcome
        UNION ALL
        SELECT (metrics_reopen_delta({at(last)}, 0, count(*))).*
          FROM {facts} WHERE closes AND to_outcome = '{WON}' AND ({last}).id IS NOT NULL
         GROUP BY {at(last)}
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day(at), pipeline, owner, source, segment, count(*),
                                     0)).*
          FROM {facts} WHERE reopened
         GROUP BY metrics_day(at), pipeline, owner, source, segment
        UNION ALL
        SELECT (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask,
                                     m.n)).*
          FROM (SELECT metrics_day(created_at) AS day, pipeline, owner, source, segment, old_mask,
                       new_mask, count(*) AS n
                  FROM {facts} WHERE new_mask <> old_mask
                 GROUP BY 1, 2, 3, 4, 5, 6, 7) g,
               LATERAL (VALUES (g.old_mask, -g.n), (g.new_mask, g.n)) AS m(mask, n)"""
    if table == "metrics_durations":
        return f"""
        SELECT d.*
          FROM (SELECT metrics_day(at) AS day, 'stay' AS measure, from_status AS status,
                       pipeline, owner, source, segment, metrics_days(entered, at) AS days,
                       count(*) AS n
                  FROM {facts} WHERE from_outcome = '{OPEN}'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
                UNION ALL
                SELECT metrics_day(at), 'cycle', '{WON}', pipeline, owner, source, segment,
                       metrics_days(created_at, at), count(*)
                  FROM {facts} WHERE closes AND to_outcome = '{WON}'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.pipeline, g.owner,
                                              g.source, g.segment, g.days, g.n)) d"""
    assert table == "metrics_losses"
    return f"""
        SELECT o.overall, metrics_day(at), pipeline,
               CASE WHEN o.overall THEN NULL ELSE owner END,
               CASE WHEN o.overall THEN NULL ELSE source END,
               CASE WHEN o.overall THEN NULL ELSE segment END,
               to_outcome, reason, from_status, competitor, count(*)
          FROM {facts}, (VALUES (false), (true)) o(overall)
         WHERE closes AND to_outcome IN ({_quoted(LOSSES)})
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"""


def _lead_rows(table: str, leads: str) -> str:
    """Rows of `table` that the new leads in relation `leads` add."""
    if table == "metrics_pipeline":
        return f"""
        SELECT (metrics_standing_key(pipeline, status, outcome, owner, source, segment,
                                     revisit_at, count(*)::integer)).*
          FROM {leads} GROUP BY pipeline, status, outcome, owner, source, segment, revisit_at"""
    if table == "metrics_daily":
        return f"""
        SELECT (metrics_cohort_delta(metrics_day(created_at), pipeline, owner, source, segment,
                                     1, count(*))).*
          FROM {leads} GROUP BY metrics_day(created_at), pipeline, owner, source, segment"""
    return ""


def _pending_rows(table: str, rows: str, facts: str, leads: str) -> str:
    """Every delta of `table` not folded in: appended rows, status changes, new leads."""
    column = table.removeprefix("metrics_")
    parts = [f"SELECT d.* FROM {rows} p, unnest(p.{column}) d", _change_rows(table, facts)]
    if lead_rows := _lead_rows(table, leads):
        parts.append(lead_rows)
    return "\nUNION ALL\n".join(parts)


def _view(table: str) -> str:
    """The rollup plus its pending deltas. The pending branch holds its own CTE: with one at the
    top, PostgreSQL plans the UNION ALL as a subquery that reads every column of the rollup, and
    `metrics_daily`'s two covering indexes could no longer serve an index-only scan."""
    facts = "metrics_change_facts(ARRAY(SELECT change_id FROM metrics_pending_changes))"
    return f"""
    CREATE VIEW {table}_now AS
      SELECT * FROM {table}
      UNION ALL
      SELECT * FROM (
        WITH facts AS MATERIALIZED (SELECT * FROM {facts})
        {_pending_rows(table, "metrics_pending", "facts", "metrics_pending_leads")}
      ) pending
    """


def _fold() -> str:
    """Move every committed delta into its rollup: one statement, one upsert per key, keys in
    order. PL/pgSQL keeps the statement's plan for the connection (a `LANGUAGE sql` function is
    planned on every call before PostgreSQL 18), and without JIT: the planner cannot see how few
    rows a fold moves."""
    steps = []
    for table, (key, counts) in ROLLUPS.items():
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
    CREATE FUNCTION metrics_fold() RETURNS bigint LANGUAGE plpgsql
    SET jit = off AS $fold$
    DECLARE
      moved bigint;
    BEGIN
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      facts AS (SELECT * FROM metrics_change_facts(ARRAY(SELECT change_id FROM moved_changes))),
      {",".join(steps)}
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
    $fold$
    """


def _rebuild() -> str:
    counts = ", ".join(COUNTS)
    sums = ", ".join(f"sum({c})" for c in COUNTS)
    daily_key = ", ".join(DAILY_KEY)
    duration_key = ", ".join(DURATION_KEY)
    loss_key = ", ".join(LOSS_KEY)
    g = "g.day, g.pipeline, g.owner, g.source, g.segment"
    return f"""
    CREATE FUNCTION metrics_rebuild() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      -- Wait for writers in flight and hold off new ones, so none holds a rollup table
      -- this needs; readers carry on until the TRUNCATE.
      LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE;
      TRUNCATE metrics_pending, metrics_pending_changes, metrics_pending_leads,
               {", ".join(ROLLUPS)};

      CREATE TEMP TABLE latest_closings ON COMMIT DROP AS
        SELECT DISTINCT ON (c.lead_id) c.lead_id, c.at, c.pipeline, c.to_outcome, c.owner,
               c.source, c.segment, l.created_at
          FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
         WHERE {_closes("c")}
         ORDER BY c.lead_id, c.id DESC;

      INSERT INTO metrics_daily ({daily_key}, {counts})
      SELECT {", ".join(f"d.{c}" for c in DAILY_KEY)}, {sums}
        FROM (
          SELECT 'cohort' AS kind, metrics_day(l.created_at) AS day, l.pipeline, l.owner,
                 l.source, l.segment, coalesce(r.mask, 1) AS mask, NULL AS outcome,
                 count(*) AS n
            FROM leads l
            LEFT JOIN (SELECT c.lead_id, 1 | bit_or({_bit("c", "b")}) AS mask
                         FROM lead_status_changes c {_stage_join("c", "b")}
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
                   WHERE c.reopened AND l.outcome = '{WON}'
                   ORDER BY c.lead_id, c.id DESC) last_reopenings
           GROUP BY 2, 3, 4, 5, 6
        ) g,
        LATERAL (
          SELECT * FROM metrics_cohort_delta({g}, g.mask, g.n) WHERE g.kind = 'cohort'
          UNION ALL
          SELECT * FROM metrics_closing_delta({g}, g.outcome, g.n) WHERE g.kind = 'closing'
          UNION ALL
          SELECT * FROM metrics_reopen_delta({g},
                                             CASE g.kind WHEN 'reopened' THEN g.n ELSE 0 END,
                                             CASE g.kind WHEN 'reopened_won' THEN g.n ELSE 0 END)
           WHERE g.kind IN ('reopened', 'reopened_won')
        ) d
       GROUP BY {", ".join(f"d.{c}" for c in DAILY_KEY)};

      INSERT INTO metrics_durations ({duration_key}, n)
      SELECT {duration_key}, sum(n)
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
       GROUP BY {duration_key};

      INSERT INTO metrics_losses ({loss_key}, n)
      SELECT o.overall, metrics_day(at), pipeline, CASE WHEN o.overall THEN NULL ELSE owner END,
             CASE WHEN o.overall THEN NULL ELSE source END,
             CASE WHEN o.overall THEN NULL ELSE segment END,
             to_outcome, reason, from_status, competitor, count(*)
        FROM lead_status_changes, (VALUES (false), (true)) o(overall)
       WHERE {_closes()} AND to_outcome IN ({_quoted(LOSSES)})
       GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

      INSERT INTO metrics_pipeline ({", ".join(PIPELINE_KEY)}, n)
      SELECT {", ".join(f"k.{c}" for c in PIPELINE_KEY)}, count(*)
        FROM leads l,
             LATERAL metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                          l.segment, l.revisit_at, 1) k
       GROUP BY 1, 2, 3, 4, 5, 6;
      DROP TABLE latest_closings;
    END $$
    """


def _tables() -> list[str]:
    counts = ", ".join(f"{c} integer NOT NULL DEFAULT 0" for c in COUNTS)
    return [
        "CREATE TABLE metrics_daily (day date NOT NULL, pipeline text NOT NULL, owner text,"
        f" source text, segment text, {counts})",
        """
        CREATE TABLE metrics_durations (
          measure text NOT NULL CONSTRAINT ck_metrics_durations_measure_known
            CHECK (measure IN ('cycle', 'stay')),
          dimension text NOT NULL CONSTRAINT ck_metrics_durations_dimension_known
            CHECK (dimension IN ('all', 'owner', 'source', 'segment')),
          status text NOT NULL, day date NOT NULL, pipeline text NOT NULL, value text,
          days integer NOT NULL, n integer NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE metrics_losses (
          overall boolean NOT NULL, day date NOT NULL, pipeline text NOT NULL, owner text,
          source text, segment text, status text NOT NULL, reason text NOT NULL,
          from_status text NOT NULL, competitor text, n integer NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE metrics_pipeline (
          pipeline text NOT NULL, status text NOT NULL, owner text, source text, segment text,
          revisit_month date, n integer NOT NULL DEFAULT 0)
        """,
    ]


UNIQUE_INCLUDES = {"metrics_daily": ("created", "won_now", *ACTIVITY)}
"""What each rollup's unique index covers besides its key (every count, unless named here).

An index holds at most 32 columns: `metrics_daily`'s key and its 33 counts do not fit in one.
Its unique index covers what the summary, owners, sources and series read; `STAGES_INDEX` covers
the funnel's counts."""
STAGES_INDEX = (
    f"CREATE INDEX ix_metrics_daily_stages ON metrics_daily ({', '.join(DAILY_KEY)})"
    f" INCLUDE ({', '.join(COHORT)})"
)


def _unique_index(table: str) -> str:
    key, counts = ROLLUPS[table]
    return (
        f"CREATE UNIQUE INDEX uq_{table}_key ON {table} ({', '.join(key)})"
        f" INCLUDE ({', '.join(UNIQUE_INCLUDES.get(table, counts))}) NULLS NOT DISTINCT"
    )


def _carry_over() -> list[str]:
    """0012's rollup rows into the new layout, all of them on `default` (whose stages 1 to 4
    are its four open statuses; no lead of 0012 held a later stage)."""
    renamed = {new: old for old, new in OLD_STAGE_COLUMNS.items()}
    kept = [c for c in COUNTS if c in renamed or not c.startswith(("reached_", "went_on_"))]
    return [
        f"INSERT INTO metrics_daily (day, pipeline, owner, source, segment, {', '.join(kept)})"
        " SELECT day, 'default', owner, source, segment,"
        f" {', '.join(renamed.get(c, c) for c in kept)} FROM metrics_daily_0012",
        f"INSERT INTO metrics_durations ({', '.join(DURATION_KEY)}, n)"
        " SELECT measure, dimension, status, day, 'default', value, days, n"
        " FROM metrics_durations_0012",
        f"INSERT INTO metrics_losses ({', '.join(LOSS_KEY)}, n)"
        " SELECT overall, day, 'default', owner, source, segment, status, reason, from_status,"
        " competitor, n FROM metrics_losses_0012",
        f"INSERT INTO metrics_pipeline ({', '.join(PIPELINE_KEY)}, n)"
        " SELECT 'default', status, owner, source, segment, revisit_month, n"
        " FROM metrics_pipeline_0012",
    ]


OLD_FUNCTIONS = (
    "metrics_fold()",
    "metrics_rebuild()",
    "metrics_change_facts(bigint[])",
    "metrics_cohort_delta(date, text, text, text, integer, bigint)",
    "metrics_closing_delta(date, text, text, text, text, bigint)",
    "metrics_reopen_delta(date, text, text, text, bigint, bigint)",
    "metrics_duration_deltas(date, text, text, text, text, text, integer, bigint)",
    "metrics_standing_key(text, text, text, text, timestamptz, integer)",
    "metrics_stage_mask(bigint)",
    "metrics_stage_bit(text)",
)
"""0012's derivations (by status name), replaced here; `metrics_day()`, `metrics_days()` and
`metrics_on_status_change()` stay as they were."""

ONLY_DEFAULT_V1 = f"""
SELECT NOT EXISTS (SELECT 1 FROM leads WHERE pipeline <> 'default' OR pipeline_version <> 1)
   AND NOT EXISTS (SELECT 1 FROM lead_status_changes
                    WHERE pipeline <> 'default' OR pipeline_version <> 1 OR from_version <> 1
                       OR reason = '{REMAP}')
"""


def upgrade() -> None:
    conn = op.get_bind()
    op.execute("LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE")
    carry_over = bool(conn.execute(text(ONLY_DEFAULT_V1)).scalar())
    if carry_over:
        # What is pending goes into 0012's rollups first, so they hold everything.
        op.execute("SELECT metrics_fold()")
    for table in ROLLUPS:
        op.execute(f"DROP VIEW {table}_now")
    for function in OLD_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP TABLE metrics_pending, metrics_pending_leads")
    op.execute("TRUNCATE metrics_pending_changes")
    for table in ROLLUPS:
        op.execute(f"DROP INDEX uq_{table}_key")
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_0012")
    for statement in _tables():
        op.execute(statement)
    if carry_over:
        for statement in _carry_over():
            op.execute(statement)
    for table in ROLLUPS:
        op.execute(f"DROP TABLE {table}_0012")
        op.execute(_unique_index(table))
    op.execute(STAGES_INDEX)
    # Deltas not yet folded in: a row per edit or delete, a row per new lead.
    op.execute(
        "CREATE TABLE metrics_pending ("
        + ", ".join(f"{t.removeprefix('metrics_')} {t}[] NOT NULL" for t in ROLLUPS)
        + ")"
    )
    op.execute(
        "CREATE TABLE metrics_pending_leads (created_at timestamptz NOT NULL,"
        " pipeline text NOT NULL, owner text, source text, segment text, status text NOT NULL,"
        " outcome text NOT NULL, revisit_at timestamptz)"
    )
    op.execute(STAGE_VIEW)
    for statement in _functions():
        op.execute(statement)
    for table in ROLLUPS:
        op.execute(_view(table))
    if not carry_over:
        op.execute("SELECT metrics_rebuild()")


IRREVERSIBLE = (
    "0013 is not downgraded in place: 0012's rollups named default's statuses and cannot"
    " hold other pipelines. Restore a backup taken before the upgrade."
)
"""Why this revision is one-way; the migrations test holds it to refusing cleanly."""


def downgrade() -> None:
    raise NotImplementedError(IRREVERSIBLE)
