"""Daily rollups of the status history, kept exact by triggers in the writing transaction.

The metrics endpoints read these instead of scanning millions of history rows. Each insert into
`lead_status_changes` notes its id in `metrics_pending_changes` (and each new, re-attributed or
deleted lead appends a row of deltas to `metrics_pending`) in the same transaction, so what a
reader sees through the `<rollup>_now` views (rollup plus pending deltas, a change's derived by
`metrics_change_deltas()` from the history) never disagrees with the history it sees.
Appending takes no lock another writer waits for, and costs a status change next to nothing;
`metrics_fold()`, run every second or so by the service, moves committed deltas into the
rollups in one statement.

* `metrics_daily`: per UTC day and (owner, source, segment), the leads created that day as they
  stand now (reached stages, won now: a creation counts for the lead's current dimensions) and
  the day's latest closings by status, reopenings and reopenings later won (a change counts for
  the dimensions recorded on it).
* `metrics_durations`: whole-day histograms of cycle times (creation to latest closing) and of
  stays in open statuses, once overall and once per owner, source and segment, so medians and
  p90s come out exact without reading the underlying rows.
* `metrics_losses`: every loss and no-decision by reason, competitor and the status it left,
  per day and dimensions, and once more per day alone (`overall`) for unfiltered reads.
* `metrics_pipeline`: leads now, by status and dimensions; closed ones by the month their
  revisit date falls in, so the nurture queue due now needs only the current month's leads.

`metrics_rebuild()` recomputes all four from the history in one set-based pass: bulk loads call
it after loading with `SET leadstatus.rollups = 'off'`, and the tests compare its result with
what the triggers maintained.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The workflow as of this revision, frozen here: a later change to the code's tables must come
# with its own migration.
OPEN = ("new", "contacted", "qualified", "negotiating")
CLOSING = ("won", "lost", "no_decision", "recycled", "disqualified", "dead")
STAGES = ("new", "contacted", "qualified", "negotiating", "won")
"""Funnel stages in order; bit i of a lead's stage mask says it has held STAGES[i]."""

COHORT = (
    "created",
    "won_now",
    *(f"reached_{s}" for s in STAGES[1:-1]),
    *(f"went_on_{s}" for s in STAGES[:-1]),
)
ACTIVITY = (*(f"closed_{s}" for s in CLOSING), "reopened", "reopened_won")
COUNTS = COHORT + ACTIVITY
DAILY_KEY = ("day", "owner", "source", "segment")
DURATION_KEY = ("measure", "dimension", "status", "day", "value", "days")
PIPELINE_KEY = ("status", "owner", "source", "segment", "revisit_month")
LOSS_KEY = (
    "overall",
    "day",
    "owner",
    "source",
    "segment",
    "status",
    "reason",
    "from_status",
    "competitor",
)


def _list(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _cohort_expressions() -> list[str]:
    """Each cohort count of one lead with stage mask `m`, times `n`."""
    bit = {s: 1 << i for i, s in enumerate(STAGES)}
    top = (
        "CASE "
        + " ".join(f"WHEN m & {bit[s]} <> 0 THEN {i}" for i, s in reversed(list(enumerate(STAGES))))
        + " ELSE 0 END"
    )
    exprs = ["n", f"CASE WHEN m & {bit['won']} <> 0 THEN n ELSE 0 END"]
    exprs += [f"CASE WHEN m & {bit[s]} <> 0 THEN n ELSE 0 END" for s in STAGES[1:-1]]
    exprs += [
        f"CASE WHEN m & {bit[s]} <> 0 AND ({top}) > {i} THEN n ELSE 0 END"
        for i, s in enumerate(STAGES[:-1])
    ]
    return exprs


def _row(day: str, dims: str, values: dict[str, str]) -> str:
    cells = ", ".join(values.get(c, "0") for c in COUNTS)
    return f"ROW({day}, {dims}, {cells})::metrics_daily"


def _functions() -> list[str]:
    bit_cases = " ".join(f"WHEN '{s}' THEN {1 << i}" for i, s in enumerate(STAGES))
    cohort = dict(zip(COHORT, _cohort_expressions(), strict=True))
    closing = {f"closed_{s}": f"CASE WHEN status = '{s}' THEN n ELSE 0 END" for s in CLOSING}
    reopen = {"reopened": "reopened", "reopened_won": "won"}
    return [
        # A UTC calendar day, and whole days elapsed (floored): the units of every rollup.
        """
        CREATE FUNCTION metrics_day(at timestamptz) RETURNS date
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (at AT TIME ZONE 'UTC')::date $$
        """,
        """
        CREATE FUNCTION metrics_days(since timestamptz, until timestamptz) RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT floor((extract(epoch FROM until) - extract(epoch FROM since)) / 86400)::integer
        $$
        """,
        f"""
        CREATE FUNCTION metrics_stage_bit(status text) RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT CASE status {bit_cases} ELSE 0 END
        $$
        """,
        f"""
        CREATE FUNCTION metrics_cohort_delta(
            day date, owner text, source text, segment text, m integer, n bigint)
        RETURNS metrics_daily LANGUAGE sql IMMUTABLE AS $$
          SELECT {_row("day", "owner, source, segment", cohort)}
        $$
        """,
        f"""
        CREATE FUNCTION metrics_closing_delta(
            day date, owner text, source text, segment text, status text, n bigint)
        RETURNS metrics_daily LANGUAGE sql IMMUTABLE AS $$
          SELECT {_row("day", "owner, source, segment", closing)}
        $$
        """,
        f"""
        CREATE FUNCTION metrics_reopen_delta(
            day date, owner text, source text, segment text, reopened bigint, won bigint)
        RETURNS metrics_daily LANGUAGE sql IMMUTABLE AS $$
          SELECT {_row("day", "owner, source, segment", reopen)}
        $$
        """,
        # One duration counted overall and for each of the three dimensions.
        """
        CREATE FUNCTION metrics_duration_deltas(
            day date, measure text, status text, owner text, source text, segment text,
            days integer, n bigint)
        RETURNS metrics_durations[] LANGUAGE sql IMMUTABLE AS $$
          SELECT ARRAY[
            ROW(measure, 'all', status, day, NULL, days, n)::metrics_durations,
            ROW(measure, 'owner', status, day, owner, days, n)::metrics_durations,
            ROW(measure, 'source', status, day, source, days, n)::metrics_durations,
            ROW(measure, 'segment', status, day, segment, days, n)::metrics_durations]
        $$
        """,
        # Stages a lead has held, from its history: the state its cohort counts depend on.
        """
        CREATE FUNCTION metrics_stage_mask(lead bigint) RETURNS integer
        LANGUAGE sql STABLE AS $$
          SELECT 1 | coalesce(bit_or(metrics_stage_bit(to_status)), 0)
            FROM lead_status_changes WHERE lead_id = lead
        $$
        """,
        # What one status change adds to each rollup, derived from the history alone (the
        # changes before it and its lead's creation time, both fixed once written), so it is
        # the same whenever it is computed. Dimensions are those recorded on the change: a
        # later edit of the lead moves its counts itself.
        f"""
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
          daily metrics_daily[] := '{{}}';
          durations metrics_durations[] := '{{}}';
          losses metrics_losses[] := '{{}}';
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
            IF prior.to_status IN ({_list(CLOSING)}) THEN
              prev_closing := prior;
              has_closing := true;
            END IF;
            IF prior.reopened THEN
              last_reopen := prior;
              has_reopen := true;
            END IF;
          END LOOP;

          IF NEW.from_status IN ({_list(OPEN)}) THEN
            durations := durations || metrics_duration_deltas(
              today, 'stay', NEW.from_status, NEW.owner, NEW.source, NEW.segment,
              metrics_days(entered, NEW.at), 1);
          END IF;
          IF NEW.to_status IN ({_list(CLOSING)}) THEN
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
        # A status change only notes itself: the work of deriving its deltas happens when
        # they are read or folded, off the writer's path.
        """
        CREATE FUNCTION metrics_on_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          INSERT INTO metrics_pending_changes VALUES (NEW.id);
          RETURN NULL;
        END $$
        """,
        # Where a lead stands now: open leads by status, closed ones by their revisit month.
        f"""
        CREATE FUNCTION metrics_standing_key(
            status text, owner text, source text, segment text, revisit_at timestamptz,
            n integer)
        RETURNS metrics_pipeline LANGUAGE sql IMMUTABLE AS $$
          SELECT ROW(status, owner, source, segment,
                     CASE WHEN status IN ({_list(CLOSING)})
                          THEN date_trunc('month', revisit_at AT TIME ZONE 'UTC')::date END,
                     n)::metrics_pipeline
        $$
        """,
        # A lead's creation counts for its current dimensions: a new lead adds itself (noted
        # as it is, its deltas derived when read or folded), an edit of owner, source or
        # segment (or creation time) moves it, a deleted lead leaves. Its standing (status,
        # revisit month) moves with every status change.
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
        """
        CREATE FUNCTION metrics_on_new_lead() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          INSERT INTO metrics_pending_leads
            VALUES (NEW.created_at, NEW.owner, NEW.source, NEW.segment, NEW.status,
                    NEW.revisit_at);
          RETURN NULL;
        END $$
        """,
        """
        CREATE FUNCTION metrics_on_lead() RETURNS trigger LANGUAGE plpgsql AS $$
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
          -- A status change moves the standing through its own deltas; here only an edited
          -- or deleted lead does.
          IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status)
          THEN
            pipeline := pipeline || metrics_standing_key(
              OLD.status, OLD.owner, OLD.source, OLD.segment, OLD.revisit_at, -1);
          END IF;
          IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
            pipeline := pipeline || metrics_standing_key(
              NEW.status, NEW.owner, NEW.source, NEW.segment, NEW.revisit_at, 1);
          END IF;
          IF TG_OP = 'DELETE' OR (OLD.owner, OLD.source, OLD.segment, OLD.created_at)
              IS DISTINCT FROM (NEW.owner, NEW.source, NEW.segment, NEW.created_at) THEN
            mask := metrics_stage_mask(OLD.id);
            daily := daily || metrics_cohort_delta(
              metrics_day(OLD.created_at), OLD.owner, OLD.source, OLD.segment, mask, -1);
            IF TG_OP = 'UPDATE' THEN
              daily := daily || metrics_cohort_delta(
                metrics_day(NEW.created_at), NEW.owner, NEW.source, NEW.segment, mask, 1);
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


ROLLUPS = {
    "metrics_pipeline": (PIPELINE_KEY, ("n",)),
    "metrics_daily": (DAILY_KEY, COUNTS),
    "metrics_durations": (DURATION_KEY, ("n",)),
    "metrics_losses": (LOSS_KEY, ("n",)),
}
"""Each rollup with its key and its counts, in the order the rebuild locks them.

The column of `metrics_pending` holding a rollup's deltas not yet folded in is its name without
`metrics_`."""


def _fold() -> str:
    """Move every committed delta into its rollup: one upsert per key, keys in order.

    Writers only ever append a row of deltas to `metrics_pending`, so concurrent status changes
    never wait for each other on a shared rollup row; readers add the pending deltas to the
    rollups (the `<rollup>_now` views), so the figures are exact whether or not a fold has run.
    Rows committed while a fold runs stay for the next one.
    """
    steps = []
    for table, (key, counts) in ROLLUPS.items():
        keys = ", ".join(key)
        column = table.removeprefix("metrics_")
        steps.append(
            f"""
      {column} AS (
        INSERT INTO {table} AS m ({keys}, {", ".join(counts)})
        SELECT {", ".join(f"d.{k}" for k in key)}, {", ".join(f"sum(d.{c})" for c in counts)}
          FROM moved, unnest(moved.{column}) d
         GROUP BY {", ".join(f"d.{k}" for k in key)} ORDER BY {", ".join(f"d.{k}" for k in key)}
        ON CONFLICT ({keys}) DO UPDATE SET
          {", ".join(f"{c} = m.{c} + excluded.{c}" for c in counts)}
        RETURNING 1)"""
        )
    return f"""
    CREATE FUNCTION metrics_fold() RETURNS bigint LANGUAGE sql AS $$
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
      {",".join(steps)}
      SELECT count(*) FROM moved
    $$
    """


def _rebuild() -> str:
    counts = ", ".join(COUNTS)
    sums = ", ".join(f"sum({c})" for c in COUNTS)
    daily_key = ", ".join(DAILY_KEY)
    duration_key = ", ".join(DURATION_KEY)
    loss_key = ", ".join(LOSS_KEY)
    return f"""
    CREATE FUNCTION metrics_rebuild() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      -- Wait for writers in flight and hold off new ones, so none holds a rollup table
      -- this needs; readers carry on until the TRUNCATE.
      LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE;
      TRUNCATE metrics_pending, metrics_pending_changes, metrics_pending_leads,
               {", ".join(ROLLUPS)};

      CREATE TEMP TABLE latest_closings ON COMMIT DROP AS
        SELECT DISTINCT ON (c.lead_id) c.lead_id, c.at, c.to_status, c.owner, c.source,
               c.segment, l.created_at
          FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
         WHERE c.to_status IN ({_list(CLOSING)})
         ORDER BY c.lead_id, c.id DESC;

      INSERT INTO metrics_daily ({daily_key}, {counts})
      SELECT {", ".join(f"d.{c}" for c in DAILY_KEY)}, {sums}
        FROM (
          SELECT 'cohort' AS kind, metrics_day(l.created_at) AS day, l.owner, l.source,
                 l.segment, coalesce(r.mask, 1) AS mask, NULL AS status, count(*) AS n
            FROM leads l
            LEFT JOIN (SELECT lead_id, 1 | bit_or(metrics_stage_bit(to_status)) AS mask
                         FROM lead_status_changes GROUP BY lead_id) r ON r.lead_id = l.id
           GROUP BY 2, 3, 4, 5, 6
          UNION ALL
          SELECT 'closing', metrics_day(at), owner, source, segment, 0, to_status, count(*)
            FROM latest_closings GROUP BY 2, 3, 4, 5, 7
          UNION ALL
          SELECT 'reopened', metrics_day(at), owner, source, segment, 0, NULL, count(*)
            FROM lead_status_changes WHERE reopened GROUP BY 2, 3, 4, 5
          UNION ALL
          SELECT 'reopened_won', metrics_day(at), owner, source, segment, 0, NULL, count(*)
            FROM (SELECT DISTINCT ON (c.lead_id) c.at, c.owner, c.source, c.segment
                    FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
                   WHERE c.reopened AND l.status = 'won'
                   ORDER BY c.lead_id, c.id DESC) last_reopenings
           GROUP BY 2, 3, 4, 5
        ) g,
        LATERAL (
          SELECT * FROM metrics_cohort_delta(g.day, g.owner, g.source, g.segment, g.mask, g.n)
           WHERE g.kind = 'cohort'
          UNION ALL
          SELECT * FROM metrics_closing_delta(g.day, g.owner, g.source, g.segment, g.status, g.n)
           WHERE g.kind = 'closing'
          UNION ALL
          SELECT * FROM metrics_reopen_delta(g.day, g.owner, g.source, g.segment,
                                             CASE g.kind WHEN 'reopened' THEN g.n ELSE 0 END,
                                             CASE g.kind WHEN 'reopened_won' THEN g.n ELSE 0 END)
           WHERE g.kind IN ('reopened', 'reopened_won')
        ) d
       GROUP BY {", ".join(f"d.{c}" for c in DAILY_KEY)};

      INSERT INTO metrics_durations ({duration_key}, n)
      SELECT {duration_key}, sum(n)
        FROM (
          SELECT unnest(metrics_duration_deltas(metrics_day(at), 'cycle', to_status, owner,
                                                source, segment,
                                                metrics_days(created_at, at), count(*))) AS d
            FROM latest_closings WHERE to_status = 'won'
           GROUP BY metrics_day(at), to_status, owner, source, segment,
                    metrics_days(created_at, at)
          UNION ALL
          SELECT unnest(metrics_duration_deltas(day, 'stay', from_status, owner, source,
                                                segment, days, count(*)))
            FROM (SELECT metrics_day(c.at) AS day, c.from_status, c.owner, c.source,
                         c.segment,
                         metrics_days(coalesce(lag(c.at) OVER (PARTITION BY c.lead_id
                                                              ORDER BY c.id),
                                               l.created_at), c.at) AS days
                    FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id) stays
           WHERE from_status IN ({_list(OPEN)})
           GROUP BY day, from_status, owner, source, segment, days
        ) deltas, LATERAL (SELECT (deltas.d).*) x
       GROUP BY {duration_key};

      INSERT INTO metrics_losses ({loss_key}, n)
      SELECT o.overall, metrics_day(at), CASE WHEN o.overall THEN NULL ELSE owner END,
             CASE WHEN o.overall THEN NULL ELSE source END,
             CASE WHEN o.overall THEN NULL ELSE segment END,
             to_status, reason, from_status, competitor, count(*)
        FROM lead_status_changes, (VALUES (false), (true)) o(overall)
       WHERE to_status IN ('lost', 'no_decision')
       GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
      INSERT INTO metrics_pipeline ({", ".join(PIPELINE_KEY)}, n)
      SELECT k.status, k.owner, k.source, k.segment, k.revisit_month, count(*)
        FROM leads l,
             LATERAL metrics_standing_key(l.status, l.owner, l.source, l.segment,
                                          l.revisit_at, 1) k
       GROUP BY 1, 2, 3, 4, 5;
      DROP TABLE latest_closings;
    END $$
    """


def upgrade() -> None:
    counts = ",\n".join(f"  {c} integer NOT NULL DEFAULT 0" for c in COUNTS)
    op.execute(
        f"""
        CREATE TABLE metrics_daily (
          day date NOT NULL, owner text, source text, segment text,
        {counts})
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_metrics_daily_key ON metrics_daily "
        f"({', '.join(DAILY_KEY)}) INCLUDE ({', '.join(COUNTS)}) NULLS NOT DISTINCT"
    )
    op.execute(
        """
        CREATE TABLE metrics_durations (
          measure text NOT NULL CONSTRAINT ck_metrics_durations_measure_known
            CHECK (measure IN ('cycle', 'stay')),
          dimension text NOT NULL CONSTRAINT ck_metrics_durations_dimension_known
            CHECK (dimension IN ('all', 'owner', 'source', 'segment')),
          status text NOT NULL, day date NOT NULL, value text, days integer NOT NULL,
          n integer NOT NULL DEFAULT 0)
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_metrics_durations_key"
        f" ON metrics_durations ({', '.join(DURATION_KEY)}) INCLUDE (n) NULLS NOT DISTINCT"
    )
    op.execute(
        """
        CREATE TABLE metrics_losses (
          overall boolean NOT NULL, day date NOT NULL, owner text, source text, segment text,
          status text NOT NULL,
          reason text NOT NULL, from_status text NOT NULL, competitor text,
          n integer NOT NULL DEFAULT 0)
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_metrics_losses_key"
        f" ON metrics_losses ({', '.join(LOSS_KEY)}) INCLUDE (n) NULLS NOT DISTINCT"
    )
    op.execute(
        """
        CREATE TABLE metrics_pipeline (
          status text NOT NULL, owner text, source text, segment text, revisit_month date,
          n integer NOT NULL DEFAULT 0)
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_metrics_pipeline_key"
        f" ON metrics_pipeline ({', '.join(PIPELINE_KEY)}) INCLUDE (n) NULLS NOT DISTINCT"
    )
    # Deltas not yet folded in, a row per trigger call (one insert, whatever it adds up to).
    op.execute(
        "CREATE TABLE metrics_pending ("
        + ", ".join(f"{t.removeprefix('metrics_')} {t}[] NOT NULL" for t in ROLLUPS)
        + ")"
    )
    op.execute("CREATE TABLE metrics_pending_changes (change_id bigint NOT NULL)")
    op.execute(
        "CREATE TABLE metrics_pending_leads (created_at timestamptz NOT NULL, owner text,"
        " source text, segment text, status text NOT NULL, revisit_at timestamptz)"
    )
    op.execute(
        "CREATE INDEX ix_leads_due ON leads (revisit_at) INCLUDE (owner, source, segment)"
        f" WHERE revisit_at IS NOT NULL AND status IN ({_list(CLOSING)})"
    )
    for statement in _functions():
        op.execute(statement)
    op.execute(
        "CREATE VIEW metrics_pending_now AS SELECT * FROM metrics_pending UNION ALL"
        " SELECT d.* FROM metrics_pending_changes p, metrics_change_deltas(p.change_id) d"
        " UNION ALL SELECT d.* FROM metrics_pending_leads p, metrics_lead_deltas(p) d"
    )
    for table in ROLLUPS:
        column = table.removeprefix("metrics_")
        op.execute(
            f"CREATE VIEW {table}_now AS SELECT * FROM {table} UNION ALL"
            f" SELECT d.* FROM metrics_pending_now p, unnest(p.{column}) d"
        )
    op.execute(
        "CREATE TRIGGER metrics_on_status_change AFTER INSERT ON lead_status_changes"
        " FOR EACH ROW EXECUTE FUNCTION metrics_on_status_change()"
    )
    op.execute(
        "CREATE TRIGGER metrics_on_new_lead AFTER INSERT ON leads"
        " FOR EACH ROW EXECUTE FUNCTION metrics_on_new_lead()"
    )
    op.execute(
        "CREATE TRIGGER metrics_on_lead_delete AFTER DELETE ON leads"
        " FOR EACH ROW EXECUTE FUNCTION metrics_on_lead()"
    )
    op.execute(
        "CREATE TRIGGER metrics_on_lead_update"
        " AFTER UPDATE OF owner, source, segment, created_at, revisit_at ON leads"
        " FOR EACH ROW WHEN ((OLD.owner, OLD.source, OLD.segment, OLD.created_at)"
        " IS DISTINCT FROM (NEW.owner, NEW.source, NEW.segment, NEW.created_at)"
        " OR (OLD.status IS NOT DISTINCT FROM NEW.status"
        " AND OLD.revisit_at IS DISTINCT FROM NEW.revisit_at))"
        " EXECUTE FUNCTION metrics_on_lead()"
    )
    op.execute("SELECT metrics_rebuild()")


def downgrade() -> None:
    op.execute("DROP TRIGGER metrics_on_lead_update ON leads")
    op.execute("DROP TRIGGER metrics_on_lead_delete ON leads")
    op.execute("DROP TRIGGER metrics_on_new_lead ON leads")
    op.execute("DROP TRIGGER metrics_on_status_change ON lead_status_changes")
    op.execute("DROP INDEX ix_leads_due")
    for table in ROLLUPS:
        op.execute(f"DROP VIEW {table}_now")
    op.execute("DROP VIEW metrics_pending_now")
    # Functions taking the queue tables' row types (0004 recreates them on its own downgrade).
    op.execute(
        "DROP FUNCTION IF EXISTS metrics_change_deltas(bigint),"
        " metrics_lead_deltas(metrics_pending_leads)"
    )
    op.execute("DROP TABLE metrics_pending, metrics_pending_changes, metrics_pending_leads")
    op.execute(
        "DROP TABLE metrics_pipeline, metrics_losses, metrics_durations, metrics_daily CASCADE"
    )
    for name in (
        "metrics_rebuild()",
        "metrics_fold()",
        "metrics_on_lead()",
        "metrics_on_new_lead()",
        "metrics_on_status_change()",
        "metrics_stage_mask(bigint)",
        "metrics_day(timestamptz)",
        "metrics_days(timestamptz, timestamptz)",
        "metrics_stage_bit(text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
