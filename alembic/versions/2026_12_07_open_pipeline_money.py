"""The open pipeline's money: what each open deal is worth, with which probability, closing when.

* `lead_status_changes` also records the deal's own `probability` and `expected_close_date` as
  each change was made (0024 recorded its value and currency), filled for the rows already
  there from the leads of today.
* `metrics_open_money`, a rollup of its own (where the open deals stand now, by pipeline,
  status, owner, source, segment, currency and month of expected close), sums `amount` and
  `valued` (the values, and how many had one), `own_amount` and `own_weighted` (of the deals
  with their own probability: their values, and value x probability). The weighted pipeline
  adds the rest at the status's probability at read time, so a pipeline edit needs no rollup
  change. `metrics_pipeline` stays as it was: the reads that count leads by status never sum a
  row per currency and month.
* What keeps it: the facts of a change carry its probability and close date; a new lead's
  pending row carries its money; an edit of a lead's value, currency, probability or close
  date queues the move of its money (`metrics_pending.open_money`; the update trigger watches
  those columns, in the status the lead stays in).
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

_MONEY_KEY = """
CREATE FUNCTION metrics_money_key(pipeline text, status text, outcome text, owner text, source text, segment text, currency text, amount numeric, probability double precision, close_date date, n integer)
 RETURNS SETOF metrics_open_money
 LANGUAGE sql
 IMMUTABLE
AS $function$
          -- Open deals only: no row for a closed lead.
          SELECT pipeline, status, owner, source, segment, currency,
                 date_trunc('month', close_date)::date,
                 n, n * (amount IS NOT NULL)::int, n * coalesce(amount, 0),
                 CASE WHEN probability IS NOT NULL THEN n * coalesce(amount, 0) ELSE 0 END,
                 n * coalesce(amount * probability::numeric, 0)
           WHERE outcome = 'open'
        $function$
"""

_DELTAS = """
CREATE FUNCTION metrics_open_money_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_open_money
 LANGUAGE sql
 IMMUTABLE
AS $function$
        SELECT d.* FROM unnest(queued) q, unnest(q.open_money) d
        UNION ALL
        SELECT k.* FROM unnest(facts) f,
               metrics_money_key(f.pipeline, f.from_status, f.from_outcome, f.owner, f.source,
                                 f.segment, f.currency, f.amount, f.probability, f.close_date,
                                 -1) k
        UNION ALL
        SELECT k.* FROM unnest(facts) f,
               metrics_money_key(f.pipeline, f.to_status, f.to_outcome, f.owner, f.source,
                                 f.segment, f.currency, f.amount, f.probability, f.close_date,
                                 1) k
        UNION ALL
        SELECT k.* FROM unnest(leads) l,
               metrics_money_key(l.pipeline, l.status, l.outcome, l.owner, l.source, l.segment,
                                 l.currency, l.estimated_value, l.probability,
                                 l.expected_close_date, 1) k
        $function$
"""

_VIEW = """
CREATE VIEW metrics_open_money_now AS
  SELECT pipeline, status, owner, source, segment, currency, close_month, n, valued, amount, own_amount, own_weighted FROM metrics_open_money
  UNION ALL
  SELECT pipeline, status, owner, source, segment, currency, close_month, n, valued, amount, own_amount, own_weighted
    FROM metrics_open_money_deltas(
           ARRAY(SELECT f::metrics_fact
                   FROM metrics_change_facts(ARRAY(SELECT change_id FROM metrics_pending_changes))
                        f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)),
           ARRAY(SELECT l::metrics_pending_leads FROM metrics_pending_leads l),
           ARRAY(SELECT q::metrics_pending FROM metrics_pending q))
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
  money metrics_open_money[] := '{}';
BEGIN
  IF current_setting('leadstatus.rollups', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status) THEN
    pipeline := pipeline || metrics_standing_key(
      OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
      OLD.revisit_at, -1);
    money := money || ARRAY(SELECT metrics_money_key(
      OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
      OLD.currency, OLD.estimated_value, OLD.probability, OLD.expected_close_date, -1));
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
    pipeline := pipeline || metrics_standing_key(
      NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
      NEW.revisit_at, 1);
    money := money || ARRAY(SELECT metrics_money_key(
      NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
      NEW.currency, NEW.estimated_value, NEW.probability, NEW.expected_close_date, 1));
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
  INSERT INTO metrics_pending (cohorts, pipeline, open_money) VALUES (cohorts, pipeline, money);
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
        INSERT INTO metrics_pipeline AS m (pipeline, status, owner, source, segment, revisit_month, n)
        SELECT pipeline, status, owner, source, segment, revisit_month, sum(n)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_pipeline_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY pipeline, status, owner, source, segment, revisit_month HAVING sum(n) <> 0
         ORDER BY pipeline, status, owner, source, segment, revisit_month
        ON CONFLICT (pipeline, status, owner, source, segment, revisit_month) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      open_money AS (
        INSERT INTO metrics_open_money AS m (pipeline, status, owner, source, segment, currency, close_month, n, valued, amount, own_amount, own_weighted)
        SELECT pipeline, status, owner, source, segment, currency, close_month, sum(n), sum(valued), sum(amount), sum(own_amount), sum(own_weighted)
          FROM batch b,
               LATERAL (SELECT * FROM metrics_open_money_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY pipeline, status, owner, source, segment, currency, close_month
        HAVING sum(n) <> 0 OR sum(valued) <> 0 OR sum(amount) <> 0 OR sum(own_amount) <> 0
            OR sum(own_weighted) <> 0
         ORDER BY pipeline, status, owner, source, segment, currency, close_month
        ON CONFLICT (pipeline, status, owner, source, segment, currency, close_month) DO UPDATE SET
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
           metrics_revenue, metrics_open_money;

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
  INSERT INTO metrics_open_money (pipeline, status, owner, source, segment, currency, close_month, n, valued, amount, own_amount, own_weighted)
  SELECT k.pipeline, k.status, k.owner, k.source, k.segment, k.currency, k.close_month,
         sum(k.n), sum(k.valued), sum(k.amount), sum(k.own_amount), sum(k.own_weighted)
    FROM leads l,
         LATERAL metrics_money_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                   l.segment, l.currency, l.estimated_value, l.probability,
                                   l.expected_close_date, 1) k
   GROUP BY 1, 2, 3, 4, 5, 6, 7;
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

_KEY = "pipeline, status, owner, source, segment, currency, close_month"


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
    op.execute(
        """
        CREATE TABLE metrics_open_money (
            pipeline text NOT NULL, status text NOT NULL, owner text, source text, segment text,
            currency text, close_month date,
            n integer NOT NULL DEFAULT 0, valued integer NOT NULL DEFAULT 0,
            amount numeric NOT NULL DEFAULT 0, own_amount numeric NOT NULL DEFAULT 0,
            own_weighted numeric NOT NULL DEFAULT 0
        )
        """
    )
    op.execute(
        f"CREATE UNIQUE INDEX uq_metrics_open_money_key ON metrics_open_money ({_KEY})"
        " INCLUDE (n, valued, amount, own_amount, own_weighted) NULLS NOT DISTINCT"
    )
    op.execute(
        "ALTER TABLE metrics_pending ADD COLUMN open_money metrics_open_money[] NOT NULL"
        " DEFAULT '{}'"
    )
    op.execute("ALTER TABLE metrics_pending ALTER COLUMN open_money DROP DEFAULT")
    op.execute("DROP TRIGGER metrics_on_lead_update ON leads")
    for statement in (_MONEY_KEY, _DELTAS, _VIEW, _ON_LEAD, _ON_NEW_LEAD, _FOLD, _REBUILD):
        op.execute(statement)
    op.execute(_TRIGGER)
    op.execute("SELECT metrics_rebuild()")


def downgrade() -> None:
    op.execute("DROP TRIGGER metrics_on_lead_update ON leads")
    for statement in (_ON_LEAD_BEFORE, _ON_NEW_LEAD_BEFORE, _FOLD_BEFORE, _REBUILD_BEFORE):
        op.execute(statement)
    op.execute(_TRIGGER_BEFORE)
    op.execute("DROP VIEW metrics_open_money_now")
    op.execute("DROP FUNCTION metrics_open_money_deltas, metrics_money_key")
    op.execute("ALTER TABLE metrics_pending DROP COLUMN open_money")
    op.execute("DROP TABLE metrics_open_money")
    op.execute(
        "ALTER TABLE metrics_pending_leads DROP COLUMN estimated_value, DROP COLUMN currency,"
        " DROP COLUMN probability, DROP COLUMN expected_close_date"
    )
    op.execute("ALTER TYPE metrics_fact DROP ATTRIBUTE probability, DROP ATTRIBUTE close_date")
    op.execute(_FACTS_BEFORE)
    op.execute("SELECT metrics_rebuild()")
    op.execute(
        "ALTER TABLE lead_status_changes DROP COLUMN probability, DROP COLUMN expected_close_date"
    )
