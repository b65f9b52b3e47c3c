"""The open pipeline's money: what each open deal is worth, with which probability, closing when.

* `lead_status_changes` also records the deal's own `probability` and `expected_close_date` as
  each change was made (0024 recorded its value and currency), filled for the rows already
  there from the leads of today.
* `metrics_pipeline` (where leads stand now) gains `currency` and `close_month` (the month of
  an open deal's expected close date) in its key, and sums (for open deals only: a closed
  lead's standing keeps one row per revisit month, whatever its currency): `amount` and `valued` (the values
  and how many had one), `own_amount` and `own_weighted` (of the deals with their own
  probability: their values, and value x probability). The weighted pipeline adds the rest at
  the status's probability at read time, so a pipeline edit needs no rollup change.
* What keeps the standing: the facts of a change carry its probability and close date; a new
  lead's pending row carries its money; an edit of a lead's value, currency, probability or
  close date moves its standing (the update trigger watches them, in the status it stays in).
* The rollups are rebuilt once at the end (about a minute per million leads).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FACTS = """
CREATE OR REPLACE FUNCTION public.metrics_change_facts(ids bigint[])
 RETURNS SETOF metrics_fact
 LANGUAGE sql
 STABLE
AS $function$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.pipeline, c.from_status,
         c.to_status, c.from_outcome, c.to_outcome, c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap', c.reason,
         c.competitor, c.reopened, c.owner, c.source, c.segment, c.revisit_at,
         p.standing_before, p.old_mask, p.old_mask | CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END, p.prev_closing,
         p.last_reopen, c.estimated_value, c.currency, c.probability, c.expected_close_date
    FROM lead_status_changes c
    JOIN leads l ON l.id = c.lead_id
    LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
    -- What the lead's earlier changes say: when it entered the status it leaves, the stages
    -- it has held, its latest closing and its latest reopening.
    CROSS JOIN LATERAL (
      SELECT (array_agg(q.at ORDER BY q.id DESC))[1] AS entered,
             (array_agg(q.revisit_at ORDER BY q.id DESC))[1] AS standing_before,
             1 | coalesce(bit_or(CASE WHEN q.to_outcome = 'won' THEN 4096 ELSE coalesce(qb.bit, 0) END), 0) AS old_mask,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.to_outcome <> 'open' AND q.reason <> 'pipeline_remap'))[1]
               AS prev_closing,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.reopened))[1] AS last_reopen
        FROM lead_status_changes q
        LEFT JOIN metrics_stages qb ON qb.pipeline = q.pipeline AND qb.version = q.pipeline_version AND qb.status = q.to_status
       WHERE q.lead_id = c.lead_id AND q.id < c.id) p
   WHERE c.id = ANY(ids)
$function$
"""

_FACTS_BEFORE = """
CREATE OR REPLACE FUNCTION public.metrics_change_facts(ids bigint[])
 RETURNS SETOF metrics_fact
 LANGUAGE sql
 STABLE
AS $function$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.pipeline, c.from_status,
         c.to_status, c.from_outcome, c.to_outcome, c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap', c.reason,
         c.competitor, c.reopened, c.owner, c.source, c.segment, c.revisit_at,
         p.standing_before, p.old_mask, p.old_mask | CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END, p.prev_closing,
         p.last_reopen, c.estimated_value, c.currency
    FROM lead_status_changes c
    JOIN leads l ON l.id = c.lead_id
    LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
    -- What the lead's earlier changes say: when it entered the status it leaves, the stages
    -- it has held, its latest closing and its latest reopening.
    CROSS JOIN LATERAL (
      SELECT (array_agg(q.at ORDER BY q.id DESC))[1] AS entered,
             (array_agg(q.revisit_at ORDER BY q.id DESC))[1] AS standing_before,
             1 | coalesce(bit_or(CASE WHEN q.to_outcome = 'won' THEN 4096 ELSE coalesce(qb.bit, 0) END), 0) AS old_mask,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.to_outcome <> 'open' AND q.reason <> 'pipeline_remap'))[1]
               AS prev_closing,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.reopened))[1] AS last_reopen
        FROM lead_status_changes q
        LEFT JOIN metrics_stages qb ON qb.pipeline = q.pipeline AND qb.version = q.pipeline_version AND qb.status = q.to_status
       WHERE q.lead_id = c.lead_id AND q.id < c.id) p
   WHERE c.id = ANY(ids)
$function$
"""

_STANDING_KEY = """
CREATE OR REPLACE FUNCTION public.metrics_standing_key(pipeline text, status text, outcome text, owner text, source text, segment text, revisit_at timestamp with time zone, currency text, amount numeric, probability double precision, close_date date, n integer)
 RETURNS metrics_pipeline
 LANGUAGE sql
 IMMUTABLE
AS $function$
          -- Only open deals carry money here (the forecast's); a closed lead's standing keeps
          -- one row per revisit month, whatever its currency.
          SELECT ROW(pipeline, status, owner, source, segment,
                     CASE WHEN outcome <> 'open'
                          THEN date_trunc('month', revisit_at AT TIME ZONE 'UTC')::date END,
                     n,
                     CASE WHEN outcome = 'open' THEN currency END,
                     CASE WHEN outcome = 'open' THEN date_trunc('month', close_date)::date END,
                     CASE WHEN outcome = 'open' THEN n * coalesce(amount, 0) ELSE 0 END,
                     CASE WHEN outcome = 'open' THEN n * (amount IS NOT NULL)::int ELSE 0 END,
                     CASE WHEN outcome = 'open' AND probability IS NOT NULL
                          THEN n * coalesce(amount, 0) ELSE 0 END,
                     CASE WHEN outcome = 'open'
                          THEN n * coalesce(amount * probability::numeric, 0) ELSE 0 END
                    )::metrics_pipeline
        $function$
"""

_STANDING_KEY_BEFORE = """
CREATE OR REPLACE FUNCTION public.metrics_standing_key(pipeline text, status text, outcome text, owner text, source text, segment text, revisit_at timestamp with time zone, n integer)
 RETURNS metrics_pipeline
 LANGUAGE sql
 IMMUTABLE
AS $function$
          SELECT ROW(pipeline, status, owner, source, segment,
                     CASE WHEN outcome <> 'open'
                          THEN date_trunc('month', revisit_at AT TIME ZONE 'UTC')::date END,
                     n)::metrics_pipeline
        $function$
"""

_ON_LEAD = """
CREATE OR REPLACE FUNCTION public.metrics_on_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
      OLD.revisit_at, OLD.currency, OLD.estimated_value, OLD.probability,
      OLD.expected_close_date, -1);
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
    pipeline := pipeline || metrics_standing_key(
      NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
      NEW.revisit_at, NEW.currency, NEW.estimated_value, NEW.probability,
      NEW.expected_close_date, 1);
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
END $function$
"""

_ON_LEAD_BEFORE = """
CREATE OR REPLACE FUNCTION public.metrics_on_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
END $function$
"""

_ON_NEW_LEAD = """
CREATE OR REPLACE FUNCTION public.metrics_on_new_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          INSERT INTO metrics_pending_leads
                 (created_at, pipeline, owner, source, segment, status, outcome, revisit_at,
                  estimated_value, currency, probability, expected_close_date)
          VALUES (NEW.created_at, NEW.pipeline, NEW.owner, NEW.source, NEW.segment, NEW.status,
                  NEW.outcome, NEW.revisit_at, NEW.estimated_value, NEW.currency,
                  NEW.probability, NEW.expected_close_date);
          RETURN NULL;
        END $function$
"""

_ON_NEW_LEAD_BEFORE = """
CREATE OR REPLACE FUNCTION public.metrics_on_new_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          INSERT INTO metrics_pending_leads
                 (created_at, pipeline, owner, source, segment, status, outcome, revisit_at)
          VALUES (NEW.created_at, NEW.pipeline, NEW.owner, NEW.source, NEW.segment, NEW.status,
                  NEW.outcome, NEW.revisit_at);
          RETURN NULL;
        END $function$
"""

_DELTAS = """
CREATE OR REPLACE FUNCTION public.metrics_pipeline_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_pipeline
 LANGUAGE sql
 IMMUTABLE
AS $function$ 
        SELECT d.* FROM unnest(queued) q, unnest(q.pipeline) d
        UNION ALL
        SELECT (metrics_standing_key(f.pipeline, f.from_status, f.from_outcome, f.owner,
                                     f.source, f.segment, f.standing_before, f.currency,
                                     f.amount, f.probability, f.close_date, -1)).*
          FROM unnest(facts) f
        UNION ALL
        SELECT (metrics_standing_key(f.pipeline, f.to_status, f.to_outcome, f.owner, f.source,
                                     f.segment, f.revisit_at, f.currency, f.amount,
                                     f.probability, f.close_date, 1)).*
          FROM unnest(facts) f
        UNION ALL
        SELECT (metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                     l.segment, l.revisit_at, l.currency, l.estimated_value,
                                     l.probability, l.expected_close_date, 1)).*
          FROM unnest(leads) l
         $function$
"""

_DELTAS_BEFORE = """
CREATE OR REPLACE FUNCTION public.metrics_pipeline_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_pipeline
 LANGUAGE sql
 IMMUTABLE
AS $function$ 
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
         $function$
"""

_VIEW = """
CREATE VIEW metrics_pipeline_now AS
  SELECT pipeline, status, owner, source, segment, revisit_month, n, currency, close_month, amount, valued, own_amount, own_weighted FROM metrics_pipeline
  UNION ALL
  SELECT pipeline, status, owner, source, segment, revisit_month, n, currency, close_month, amount, valued, own_amount, own_weighted
    FROM metrics_pipeline_deltas(
           ARRAY(SELECT f::metrics_fact
                   FROM metrics_change_facts(ARRAY(SELECT change_id FROM metrics_pending_changes))
                        f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)),
           ARRAY(SELECT l::metrics_pending_leads FROM metrics_pending_leads l),
           ARRAY(SELECT q::metrics_pending FROM metrics_pending q))
"""

_VIEW_BEFORE = """
CREATE VIEW metrics_pipeline_now AS
 SELECT metrics_pipeline.pipeline,
    metrics_pipeline.status,
    metrics_pipeline.owner,
    metrics_pipeline.source,
    metrics_pipeline.segment,
    metrics_pipeline.revisit_month,
    metrics_pipeline.n
   FROM metrics_pipeline
UNION ALL
 SELECT metrics_pipeline_deltas.pipeline,
    metrics_pipeline_deltas.status,
    metrics_pipeline_deltas.owner,
    metrics_pipeline_deltas.source,
    metrics_pipeline_deltas.segment,
    metrics_pipeline_deltas.revisit_month,
    metrics_pipeline_deltas.n
   FROM metrics_pipeline_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_pipeline_deltas(pipeline, status, owner, source, segment, revisit_month, n)
"""

_FOLD = """
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
      batch AS MATERIALIZED (
        SELECT ARRAY(SELECT f FROM metrics_change_facts(ARRAY(SELECT change_id
                                                              FROM moved_changes)) f) AS facts,
               ARRAY(SELECT ROW(l.*)::metrics_pending_leads FROM moved_leads l) AS leads,
               ARRAY(SELECT ROW(q.*)::metrics_pending FROM moved_rows q) AS queued),

      pipeline AS (
        INSERT INTO metrics_pipeline AS m (pipeline, status, owner, source, segment, revisit_month, currency, close_month, n, valued, amount, own_amount, own_weighted)
        SELECT pipeline, status, owner, source, segment, revisit_month, currency, close_month, sum(n), sum(valued), sum(amount), sum(own_amount), sum(own_weighted)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_pipeline_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY pipeline, status, owner, source, segment, revisit_month, currency, close_month
        HAVING sum(n) <> 0 OR sum(valued) <> 0 OR sum(amount) <> 0 OR sum(own_amount) <> 0
            OR sum(own_weighted) <> 0
         ORDER BY pipeline, status, owner, source, segment, revisit_month, currency, close_month
        ON CONFLICT (pipeline, status, owner, source, segment, revisit_month, currency, close_month) DO UPDATE SET
          n = m.n + excluded.n, valued = m.valued + excluded.valued,
          amount = m.amount + excluded.amount, own_amount = m.own_amount + excluded.own_amount,
          own_weighted = m.own_weighted + excluded.own_weighted
        RETURNING 1),
      cohorts AS (
        INSERT INTO metrics_cohorts AS m (grain, day, pipeline, owner, source, segment, stages, n)
        SELECT grain, day, pipeline, owner, source, segment, stages, sum(n)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.stages, d.n FROM metrics_cohorts_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment, stages HAVING sum(n) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment, stages
        ON CONFLICT (grain, day, pipeline, owner, source, segment, stages) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      closings AS (
        INSERT INTO metrics_closings AS m (grain, day, pipeline, owner, source, segment, outcome, n)
        SELECT grain, day, pipeline, owner, source, segment, outcome, sum(n)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.n FROM metrics_closings_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment, outcome HAVING sum(n) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment, outcome
        ON CONFLICT (grain, day, pipeline, owner, source, segment, outcome) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      revenue AS (
        INSERT INTO metrics_revenue AS m (grain, day, pipeline, owner, source, segment, outcome, currency, n, valued, amount)
        SELECT grain, day, pipeline, owner, source, segment, outcome, currency, sum(n), sum(valued), sum(amount)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.currency, d.n, d.valued, d.amount FROM metrics_revenue_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment, outcome, currency
        HAVING sum(n) <> 0 OR sum(valued) <> 0 OR sum(amount) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment, outcome, currency
        ON CONFLICT (grain, day, pipeline, owner, source, segment, outcome, currency) DO UPDATE SET
          n = m.n + excluded.n, valued = m.valued + excluded.valued,
          amount = m.amount + excluded.amount
        RETURNING 1),
      reopenings AS (
        INSERT INTO metrics_reopenings AS m (grain, day, pipeline, owner, source, segment, n, won)
        SELECT grain, day, pipeline, owner, source, segment, sum(n), sum(won)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.n, d.won FROM metrics_reopenings_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment HAVING sum(n) <> 0 OR sum(won) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment
        ON CONFLICT (grain, day, pipeline, owner, source, segment) DO UPDATE SET
          n = m.n + excluded.n, won = m.won + excluded.won
        RETURNING 1),
      durations AS (
        INSERT INTO metrics_durations AS m (measure, dimension, status, day, pipeline, value, days, n)
        SELECT measure, dimension, status, day, pipeline, value, days, sum(n)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_durations_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY measure, dimension, status, day, pipeline, value, days HAVING sum(n) <> 0
         ORDER BY measure, dimension, status, day, pipeline, value, days
        ON CONFLICT (measure, dimension, status, day, pipeline, value, days) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      losses AS (
        INSERT INTO metrics_losses AS m (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency, n, amount, valued)
        SELECT overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency, sum(n), sum(amount), sum(valued)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_losses_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency HAVING sum(n) <> 0
         ORDER BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency
        ON CONFLICT (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency) DO UPDATE SET
          n = m.n + excluded.n, amount = m.amount + excluded.amount, valued = m.valued + excluded.valued
        RETURNING 1)
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
$function$
"""

_FOLD_BEFORE = """
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
      batch AS MATERIALIZED (
        SELECT ARRAY(SELECT f FROM metrics_change_facts(ARRAY(SELECT change_id
                                                              FROM moved_changes)) f) AS facts,
               ARRAY(SELECT ROW(l.*)::metrics_pending_leads FROM moved_leads l) AS leads,
               ARRAY(SELECT ROW(q.*)::metrics_pending FROM moved_rows q) AS queued),

      pipeline AS (
        INSERT INTO metrics_pipeline AS m (pipeline, status, owner, source, segment, revisit_month, n)
        SELECT pipeline, status, owner, source, segment, revisit_month, sum(n)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_pipeline_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY pipeline, status, owner, source, segment, revisit_month HAVING sum(n) <> 0
         ORDER BY pipeline, status, owner, source, segment, revisit_month
        ON CONFLICT (pipeline, status, owner, source, segment, revisit_month) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      cohorts AS (
        INSERT INTO metrics_cohorts AS m (grain, day, pipeline, owner, source, segment, stages, n)
        SELECT grain, day, pipeline, owner, source, segment, stages, sum(n)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.stages, d.n FROM metrics_cohorts_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment, stages HAVING sum(n) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment, stages
        ON CONFLICT (grain, day, pipeline, owner, source, segment, stages) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      closings AS (
        INSERT INTO metrics_closings AS m (grain, day, pipeline, owner, source, segment, outcome, n)
        SELECT grain, day, pipeline, owner, source, segment, outcome, sum(n)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.n FROM metrics_closings_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment, outcome HAVING sum(n) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment, outcome
        ON CONFLICT (grain, day, pipeline, owner, source, segment, outcome) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      revenue AS (
        INSERT INTO metrics_revenue AS m (grain, day, pipeline, owner, source, segment, outcome, currency, n, valued, amount)
        SELECT grain, day, pipeline, owner, source, segment, outcome, currency, sum(n), sum(valued), sum(amount)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.currency, d.n, d.valued, d.amount FROM metrics_revenue_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment, outcome, currency
        HAVING sum(n) <> 0 OR sum(valued) <> 0 OR sum(amount) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment, outcome, currency
        ON CONFLICT (grain, day, pipeline, owner, source, segment, outcome, currency) DO UPDATE SET
          n = m.n + excluded.n, valued = m.valued + excluded.valued,
          amount = m.amount + excluded.amount
        RETURNING 1),
      reopenings AS (
        INSERT INTO metrics_reopenings AS m (grain, day, pipeline, owner, source, segment, n, won)
        SELECT grain, day, pipeline, owner, source, segment, sum(n), sum(won)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.n, d.won FROM metrics_reopenings_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY grain, day, pipeline, owner, source, segment HAVING sum(n) <> 0 OR sum(won) <> 0
         ORDER BY grain, day, pipeline, owner, source, segment
        ON CONFLICT (grain, day, pipeline, owner, source, segment) DO UPDATE SET
          n = m.n + excluded.n, won = m.won + excluded.won
        RETURNING 1),
      durations AS (
        INSERT INTO metrics_durations AS m (measure, dimension, status, day, pipeline, value, days, n)
        SELECT measure, dimension, status, day, pipeline, value, days, sum(n)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_durations_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY measure, dimension, status, day, pipeline, value, days HAVING sum(n) <> 0
         ORDER BY measure, dimension, status, day, pipeline, value, days
        ON CONFLICT (measure, dimension, status, day, pipeline, value, days) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      losses AS (
        INSERT INTO metrics_losses AS m (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency, n, amount, valued)
        SELECT overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency, sum(n), sum(amount), sum(valued)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_losses_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency HAVING sum(n) <> 0
         ORDER BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency
        ON CONFLICT (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency) DO UPDATE SET
          n = m.n + excluded.n, amount = m.amount + excluded.amount, valued = m.valued + excluded.valued
        RETURNING 1)
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
$function$
"""

_REBUILD = """
CREATE OR REPLACE FUNCTION public.metrics_rebuild()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  -- Wait for writers in flight and hold off new ones, so none holds a rollup table this
  -- needs; readers carry on until the TRUNCATE.
  LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE;
  TRUNCATE metrics_pending, metrics_pending_changes, metrics_pending_leads,
           metrics_pipeline, metrics_cohorts, metrics_closings, metrics_reopenings, metrics_durations, metrics_losses,
           metrics_revenue;

  CREATE TEMP TABLE latest_closings ON COMMIT DROP AS
    SELECT DISTINCT ON (c.lead_id) c.lead_id, c.at, c.pipeline, c.to_outcome, c.owner,
           c.source, c.segment, l.created_at, c.estimated_value, c.currency
      FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
     WHERE c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap'
     ORDER BY c.lead_id, c.id DESC;

  INSERT INTO metrics_cohorts (grain, day, pipeline, owner, source, segment, stages, n)
  SELECT grain, day, pipeline, owner, source, segment, stages, sum(n) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.stages, d.n FROM (
    SELECT 'full' AS grain, metrics_day(l.created_at) AS day, l.pipeline, l.owner, l.source,
           l.segment, coalesce(r.stages, 1) AS stages, count(*) AS n
      FROM leads l
      LEFT JOIN (SELECT c.lead_id, 1 | bit_or(CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END) AS stages
                   FROM lead_status_changes c LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
                  GROUP BY c.lead_id) r ON r.lead_id = l.id
     GROUP BY 2, 3, 4, 5, 6, 7) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment, stages;

  INSERT INTO metrics_closings (grain, day, pipeline, owner, source, segment, outcome, n)
  SELECT grain, day, pipeline, owner, source, segment, outcome, sum(n) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.n FROM (
    SELECT 'full' AS grain, metrics_day(at) AS day, pipeline, owner, source, segment,
           to_outcome AS outcome, count(*) AS n
      FROM latest_closings GROUP BY 2, 3, 4, 5, 6, 7) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment, outcome;

  INSERT INTO metrics_revenue (grain, day, pipeline, owner, source, segment, outcome, currency, n, valued, amount)
  SELECT grain, day, pipeline, owner, source, segment, outcome, currency, sum(n), sum(valued), sum(amount) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.currency, d.n, d.valued, d.amount FROM (
    SELECT 'full' AS grain, metrics_day(at) AS day, pipeline, owner, source, segment,
           to_outcome AS outcome, currency, count(*) AS n, count(estimated_value) AS valued,
           coalesce(sum(estimated_value), 0) AS amount
      FROM latest_closings WHERE to_outcome IN ('won', 'lost', 'no_decision')
     GROUP BY 2, 3, 4, 5, 6, 7, 8) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment, outcome, currency;

  INSERT INTO metrics_reopenings (grain, day, pipeline, owner, source, segment, n, won)
  SELECT grain, day, pipeline, owner, source, segment, sum(n), sum(won) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.n, d.won FROM (
    SELECT 'full' AS grain, day, pipeline, owner, source, segment, sum(n) AS n, sum(won) AS won
      FROM (SELECT metrics_day(at) AS day, pipeline, owner, source, segment, 1 AS n, 0 AS won
              FROM lead_status_changes WHERE reopened
            UNION ALL
            SELECT metrics_day(r.at), r.pipeline, r.owner, r.source, r.segment, 0, 1
              FROM (SELECT DISTINCT ON (c.lead_id) c.at, c.pipeline, c.owner, c.source,
                           c.segment
                      FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
                     WHERE c.reopened AND l.outcome = 'won'
                     ORDER BY c.lead_id, c.id DESC) r) g
     GROUP BY 2, 3, 4, 5, 6) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment;

  INSERT INTO metrics_durations (measure, dimension, status, day, pipeline, value, days, n)
  SELECT x.measure, x.dimension, x.status, x.day, x.pipeline, x.value, x.days, sum(x.n)
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
   GROUP BY 1, 2, 3, 4, 5, 6, 7;

  INSERT INTO metrics_losses (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency, n, amount, valued)
  SELECT o.overall, metrics_day(at), pipeline, CASE WHEN o.overall THEN NULL ELSE owner END,
         CASE WHEN o.overall THEN NULL ELSE source END,
         CASE WHEN o.overall THEN NULL ELSE segment END,
         to_outcome, reason, from_status, competitor, currency, count(*),
         coalesce(sum(estimated_value), 0), count(estimated_value)
    FROM lead_status_changes c, (VALUES (false), (true)) o(overall)
   WHERE c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap' AND to_outcome IN ('lost', 'no_decision')
   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;

  INSERT INTO metrics_pipeline (pipeline, status, owner, source, segment, revisit_month, currency, close_month, n, valued, amount, own_amount, own_weighted)
  SELECT k.pipeline, k.status, k.owner, k.source, k.segment, k.revisit_month, k.currency,
         k.close_month, count(*), sum(k.valued), sum(k.amount), sum(k.own_amount),
         sum(k.own_weighted)
    FROM leads l,
         LATERAL metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                      l.segment, l.revisit_at, l.currency, l.estimated_value,
                                      l.probability, l.expected_close_date, 1) k
   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
  DROP TABLE latest_closings;
END $function$
"""

_REBUILD_BEFORE = """
CREATE OR REPLACE FUNCTION public.metrics_rebuild()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  -- Wait for writers in flight and hold off new ones, so none holds a rollup table this
  -- needs; readers carry on until the TRUNCATE.
  LOCK TABLE leads, lead_status_changes IN SHARE ROW EXCLUSIVE MODE;
  TRUNCATE metrics_pending, metrics_pending_changes, metrics_pending_leads,
           metrics_pipeline, metrics_cohorts, metrics_closings, metrics_reopenings, metrics_durations, metrics_losses,
           metrics_revenue;

  CREATE TEMP TABLE latest_closings ON COMMIT DROP AS
    SELECT DISTINCT ON (c.lead_id) c.lead_id, c.at, c.pipeline, c.to_outcome, c.owner,
           c.source, c.segment, l.created_at, c.estimated_value, c.currency
      FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
     WHERE c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap'
     ORDER BY c.lead_id, c.id DESC;

  INSERT INTO metrics_cohorts (grain, day, pipeline, owner, source, segment, stages, n)
  SELECT grain, day, pipeline, owner, source, segment, stages, sum(n) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.stages, d.n FROM (
    SELECT 'full' AS grain, metrics_day(l.created_at) AS day, l.pipeline, l.owner, l.source,
           l.segment, coalesce(r.stages, 1) AS stages, count(*) AS n
      FROM leads l
      LEFT JOIN (SELECT c.lead_id, 1 | bit_or(CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END) AS stages
                   FROM lead_status_changes c LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
                  GROUP BY c.lead_id) r ON r.lead_id = l.id
     GROUP BY 2, 3, 4, 5, 6, 7) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment, stages;

  INSERT INTO metrics_closings (grain, day, pipeline, owner, source, segment, outcome, n)
  SELECT grain, day, pipeline, owner, source, segment, outcome, sum(n) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.n FROM (
    SELECT 'full' AS grain, metrics_day(at) AS day, pipeline, owner, source, segment,
           to_outcome AS outcome, count(*) AS n
      FROM latest_closings GROUP BY 2, 3, 4, 5, 6, 7) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment, outcome;

  INSERT INTO metrics_revenue (grain, day, pipeline, owner, source, segment, outcome, currency, n, valued, amount)
  SELECT grain, day, pipeline, owner, source, segment, outcome, currency, sum(n), sum(valued), sum(amount) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.currency, d.n, d.valued, d.amount FROM (
    SELECT 'full' AS grain, metrics_day(at) AS day, pipeline, owner, source, segment,
           to_outcome AS outcome, currency, count(*) AS n, count(estimated_value) AS valued,
           coalesce(sum(estimated_value), 0) AS amount
      FROM latest_closings WHERE to_outcome IN ('won', 'lost', 'no_decision')
     GROUP BY 2, 3, 4, 5, 6, 7, 8) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment, outcome, currency;

  INSERT INTO metrics_reopenings (grain, day, pipeline, owner, source, segment, n, won)
  SELECT grain, day, pipeline, owner, source, segment, sum(n), sum(won) FROM (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.n, d.won FROM (
    SELECT 'full' AS grain, day, pipeline, owner, source, segment, sum(n) AS n, sum(won) AS won
      FROM (SELECT metrics_day(at) AS day, pipeline, owner, source, segment, 1 AS n, 0 AS won
              FROM lead_status_changes WHERE reopened
            UNION ALL
            SELECT metrics_day(r.at), r.pipeline, r.owner, r.source, r.segment, 0, 1
              FROM (SELECT DISTINCT ON (c.lead_id) c.at, c.pipeline, c.owner, c.source,
                           c.segment
                      FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
                     WHERE c.reopened AND l.outcome = 'won'
                     ORDER BY c.lead_id, c.id DESC) r) g
     GROUP BY 2, 3, 4, 5, 6) d, metrics_grains(d.owner, d.source, d.segment) g) spread GROUP BY grain, day, pipeline, owner, source, segment;

  INSERT INTO metrics_durations (measure, dimension, status, day, pipeline, value, days, n)
  SELECT x.measure, x.dimension, x.status, x.day, x.pipeline, x.value, x.days, sum(x.n)
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
   GROUP BY 1, 2, 3, 4, 5, 6, 7;

  INSERT INTO metrics_losses (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, currency, n, amount, valued)
  SELECT o.overall, metrics_day(at), pipeline, CASE WHEN o.overall THEN NULL ELSE owner END,
         CASE WHEN o.overall THEN NULL ELSE source END,
         CASE WHEN o.overall THEN NULL ELSE segment END,
         to_outcome, reason, from_status, competitor, currency, count(*),
         coalesce(sum(estimated_value), 0), count(estimated_value)
    FROM lead_status_changes c, (VALUES (false), (true)) o(overall)
   WHERE c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap' AND to_outcome IN ('lost', 'no_decision')
   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;

  INSERT INTO metrics_pipeline (pipeline, status, owner, source, segment, revisit_month, n)
  SELECT k.pipeline, k.status, k.owner, k.source, k.segment, k.revisit_month, count(*)
    FROM leads l,
         LATERAL metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                      l.segment, l.revisit_at, 1) k
   GROUP BY 1, 2, 3, 4, 5, 6;
  DROP TABLE latest_closings;
END $function$
"""

_TRIGGER = """
CREATE TRIGGER metrics_on_lead_update AFTER UPDATE OF owner, source, segment, created_at, revisit_at, estimated_value, currency, probability, expected_close_date ON leads FOR EACH ROW WHEN (old.owner IS DISTINCT FROM new.owner OR old.source IS DISTINCT FROM new.source OR old.segment IS DISTINCT FROM new.segment OR old.created_at IS DISTINCT FROM new.created_at OR NOT old.status IS DISTINCT FROM new.status AND (old.revisit_at, old.estimated_value, old.currency, old.probability, old.expected_close_date) IS DISTINCT FROM (new.revisit_at, new.estimated_value, new.currency, new.probability, new.expected_close_date)) EXECUTE FUNCTION metrics_on_lead()
"""

_TRIGGER_BEFORE = """
CREATE TRIGGER metrics_on_lead_update AFTER UPDATE OF owner, source, segment, created_at, revisit_at ON leads FOR EACH ROW WHEN (old.owner IS DISTINCT FROM new.owner OR old.source IS DISTINCT FROM new.source OR old.segment IS DISTINCT FROM new.segment OR old.created_at IS DISTINCT FROM new.created_at OR NOT old.status IS DISTINCT FROM new.status AND old.revisit_at IS DISTINCT FROM new.revisit_at) EXECUTE FUNCTION metrics_on_lead()
"""

_KEY = "pipeline, status, owner, source, segment, revisit_month, currency, close_month"
_KEY_BEFORE = "pipeline, status, owner, source, segment, revisit_month"
_STANDING_KEY_SIGNATURE_BEFORE = (
    "metrics_standing_key(text, text, text, text, text, text, timestamp with time zone, integer)"
)
_STANDING_KEY_SIGNATURE = (
    "metrics_standing_key(text, text, text, text, text, text, timestamp with time zone, text,"
    " numeric, double precision, date, integer)"
)


def _without_queued_standing() -> None:
    """PostgreSQL refuses to change `metrics_pipeline` while `metrics_pending.pipeline` holds
    arrays of its rows: drop that column for the change. The deltas it held are not lost for
    good: the rebuild at the end recomputes every rollup from the history."""
    op.execute("LOCK TABLE metrics_pending IN ACCESS EXCLUSIVE MODE")
    op.execute("ALTER TABLE metrics_pending DROP COLUMN pipeline")


def _with_queued_standing() -> None:
    op.execute("DELETE FROM metrics_pending")
    op.execute("ALTER TABLE metrics_pending ADD COLUMN pipeline metrics_pipeline[] NOT NULL")


def upgrade() -> None:
    op.execute(
        "ALTER TABLE lead_status_changes ADD COLUMN probability double precision,"
        " ADD COLUMN expected_close_date date"
    )
    # The history is append-only; this fills the new columns of the rows already there.
    op.execute("ALTER TABLE lead_status_changes DISABLE TRIGGER lead_status_changes_append_only")
    op.execute(
        "UPDATE lead_status_changes c SET probability = l.probability,"
        " expected_close_date = l.expected_close_date FROM leads l"
        " WHERE l.id = c.lead_id"
        " AND (l.probability IS NOT NULL OR l.expected_close_date IS NOT NULL)"
    )
    op.execute("ALTER TABLE lead_status_changes ENABLE TRIGGER lead_status_changes_append_only")
    op.execute(
        "ALTER TYPE metrics_fact ADD ATTRIBUTE probability double precision,"
        " ADD ATTRIBUTE close_date date"
    )
    op.execute(_FACTS)
    op.execute(
        "ALTER TABLE metrics_pending_leads ADD COLUMN estimated_value numeric,"
        " ADD COLUMN currency text, ADD COLUMN probability double precision,"
        " ADD COLUMN expected_close_date date"
    )
    op.execute("DROP VIEW metrics_pipeline_now")
    _without_queued_standing()
    op.execute(
        "ALTER TABLE metrics_pipeline ADD COLUMN currency text, ADD COLUMN close_month date,"
        " ADD COLUMN amount numeric NOT NULL DEFAULT 0,"
        " ADD COLUMN valued integer NOT NULL DEFAULT 0,"
        " ADD COLUMN own_amount numeric NOT NULL DEFAULT 0,"
        " ADD COLUMN own_weighted numeric NOT NULL DEFAULT 0"
    )
    _with_queued_standing()
    op.execute("DROP INDEX uq_metrics_pipeline_key")
    op.execute(
        f"CREATE UNIQUE INDEX uq_metrics_pipeline_key ON metrics_pipeline ({_KEY})"
        " INCLUDE (n, valued, amount, own_amount, own_weighted) NULLS NOT DISTINCT"
    )
    op.execute("DROP TRIGGER metrics_on_lead_update ON leads")
    op.execute(f"DROP FUNCTION {_STANDING_KEY_SIGNATURE_BEFORE}")
    for statement in (_STANDING_KEY, _ON_LEAD, _ON_NEW_LEAD, _DELTAS, _VIEW, _FOLD, _REBUILD):
        op.execute(statement)
    op.execute(_TRIGGER)
    op.execute("SELECT metrics_rebuild()")


def downgrade() -> None:
    op.execute("DROP VIEW metrics_pipeline_now")
    op.execute("DROP TRIGGER metrics_on_lead_update ON leads")
    op.execute(f"DROP FUNCTION {_STANDING_KEY_SIGNATURE}")
    op.execute("DROP INDEX uq_metrics_pipeline_key")
    _without_queued_standing()
    op.execute(
        "ALTER TABLE metrics_pipeline DROP COLUMN currency, DROP COLUMN close_month,"
        " DROP COLUMN amount, DROP COLUMN valued, DROP COLUMN own_amount,"
        " DROP COLUMN own_weighted"
    )
    _with_queued_standing()
    op.execute(
        f"CREATE UNIQUE INDEX uq_metrics_pipeline_key ON metrics_pipeline ({_KEY_BEFORE})"
        " INCLUDE (n) NULLS NOT DISTINCT"
    )
    op.execute(
        "ALTER TABLE metrics_pending_leads DROP COLUMN estimated_value, DROP COLUMN currency,"
        " DROP COLUMN probability, DROP COLUMN expected_close_date"
    )
    op.execute("ALTER TYPE metrics_fact DROP ATTRIBUTE probability, DROP ATTRIBUTE close_date")
    for statement in (
        _FACTS_BEFORE,
        _STANDING_KEY_BEFORE,
        _ON_LEAD_BEFORE,
        _ON_NEW_LEAD_BEFORE,
        _DELTAS_BEFORE,
        _VIEW_BEFORE,
        _FOLD_BEFORE,
        _REBUILD_BEFORE,
    ):
        op.execute(statement)
    op.execute(_TRIGGER_BEFORE)
    op.execute("SELECT metrics_rebuild()")
    op.execute(
        "ALTER TABLE lead_status_changes DROP COLUMN probability, DROP COLUMN expected_close_date"
    )
