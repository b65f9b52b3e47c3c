"""Revenue: each status change records the deal's value, and the closings and losses rollups
sum it per currency.

* `lead_status_changes` gains `estimated_value` and `currency`: the lead's as the change was
  made, like its owner, source and segment. Revenue counts a deal at the value it closed with,
  and for the rep, source and segment it closed under; editing a closed deal's value later does
  not rewrite past revenue. The rows already there get the lead's value and currency of today
  (nothing older is known).
* `metrics_closings` and `metrics_losses` gain `currency` in their key, `amount` (the sum of
  the values) and `valued` (how many of the counted changes carried a value), filled by the
  same deltas as their counts: a reopening takes its closing's amount back out.
* The facts the fold derives from a change carry its value and currency; the fold, the rebuild
  and the `_now` views take the new columns; the rollups are rebuilt once at the end, since the
  rows already there have no amounts (about a minute per million leads).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FACT_COLUMNS = (
    "at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes,"
    " reason, competitor, reopened, owner, source, segment, revisit_at, standing_before,"
    " old_mask, new_mask, prev_closing, last_reopen"
)
_PENDING = f"""ARRAY(SELECT f::metrics_fact
                  FROM metrics_change_facts(ARRAY(SELECT change_id FROM metrics_pending_changes))
                       f({_FACT_COLUMNS})),
            ARRAY(SELECT l::metrics_pending_leads FROM metrics_pending_leads l),
            ARRAY(SELECT q::metrics_pending FROM metrics_pending q)"""


def _facts(with_amounts: bool) -> str:
    amounts = ", c.estimated_value, c.currency" if with_amounts else ""
    return f"""
CREATE OR REPLACE FUNCTION metrics_change_facts(ids bigint[]) RETURNS SETOF metrics_fact
LANGUAGE sql STABLE AS $$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.pipeline, c.from_status,
         c.to_status, c.from_outcome, c.to_outcome, c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap', c.reason,
         c.competitor, c.reopened, c.owner, c.source, c.segment, c.revisit_at,
         p.standing_before, p.old_mask, p.old_mask | CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END, p.prev_closing,
         p.last_reopen{amounts}
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
$$
"""


_REVENUE_DELTAS = """
CREATE FUNCTION metrics_revenue_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
RETURNS SETOF metrics_revenue LANGUAGE sql IMMUTABLE AS $$
        SELECT 'full', metrics_day((f.prev_closing).at), (f.prev_closing).pipeline, (f.prev_closing).owner, (f.prev_closing).source, (f.prev_closing).segment, (f.prev_closing).to_outcome,
               (f.prev_closing).currency, -1, -((f.prev_closing).estimated_value IS NOT NULL)::int,
               -coalesce((f.prev_closing).estimated_value, 0)
          FROM unnest(facts) f
         WHERE f.closes AND (f.prev_closing).id IS NOT NULL
           AND (f.prev_closing).to_outcome IN ('won', 'lost', 'no_decision')
        UNION ALL
        SELECT 'full', metrics_day(f.at), f.pipeline, f.owner, f.source, f.segment, f.to_outcome,
               f.currency, 1, (f.amount IS NOT NULL)::int, coalesce(f.amount, 0)
          FROM unnest(facts) f WHERE f.closes AND f.to_outcome IN ('won', 'lost', 'no_decision')
$$
"""

_LOSSES_DELTAS = """
CREATE OR REPLACE FUNCTION metrics_losses_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
RETURNS SETOF metrics_losses LANGUAGE sql IMMUTABLE AS $$
        SELECT o.overall, metrics_day(f.at), f.pipeline,
               CASE WHEN o.overall THEN NULL ELSE f.owner END,
               CASE WHEN o.overall THEN NULL ELSE f.source END,
               CASE WHEN o.overall THEN NULL ELSE f.segment END,
               f.to_outcome, f.reason, f.from_status, f.competitor, 1,
               f.currency, coalesce(f.amount, 0), (f.amount IS NOT NULL)::int
          FROM unnest(facts) f, (VALUES (false), (true)) o(overall)
         WHERE f.closes AND f.to_outcome IN ('lost', 'no_decision')
$$
"""

_LOSSES_DELTAS_BEFORE = """
CREATE OR REPLACE FUNCTION metrics_losses_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
RETURNS SETOF metrics_losses LANGUAGE sql IMMUTABLE AS $$
        SELECT o.overall, metrics_day(f.at), f.pipeline,
               CASE WHEN o.overall THEN NULL ELSE f.owner END,
               CASE WHEN o.overall THEN NULL ELSE f.source END,
               CASE WHEN o.overall THEN NULL ELSE f.segment END,
               f.to_outcome, f.reason, f.from_status, f.competitor, 1
          FROM unnest(facts) f, (VALUES (false), (true)) o(overall)
         WHERE f.closes AND f.to_outcome IN ('lost', 'no_decision')
$$
"""

_CLOSINGS_KEY = "grain, day, pipeline, owner, source, segment, outcome"
_LOSSES_KEY = "overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor"


_REVENUE_KEY = f"{_CLOSINGS_KEY}, currency"

_REVENUE_VIEW = f"""
CREATE VIEW metrics_revenue_now AS
  SELECT {_REVENUE_KEY}, n, valued, amount FROM metrics_revenue
  UNION ALL
  SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.currency,
         d.n, d.valued, d.amount
    FROM metrics_revenue_deltas({_PENDING}) d,
         LATERAL metrics_grains(d.owner, d.source, d.segment) g
"""


def _losses_view(with_amounts: bool) -> str:
    money = ", currency, amount, valued" if with_amounts else ""
    return f"""
CREATE VIEW metrics_losses_now AS
  SELECT {_LOSSES_KEY}, n{money} FROM metrics_losses
  UNION ALL
  SELECT {_LOSSES_KEY}, n{money} FROM metrics_losses_deltas({_PENDING})
"""


def _fold(with_amounts: bool) -> str:
    def money(prefix: str) -> str:
        return prefix if with_amounts else ""

    losses_key = _LOSSES_KEY + money(", currency")
    revenue = money(f"""
      revenue AS (
        INSERT INTO metrics_revenue AS m ({_REVENUE_KEY}, n, valued, amount)
        SELECT {_REVENUE_KEY}, sum(n), sum(valued), sum(amount)
          FROM batch b,
               LATERAL (SELECT g.grain, d.day, d.pipeline, g.owner, g.source, g.segment, d.outcome, d.currency, d.n, d.valued, d.amount FROM metrics_revenue_deltas(b.facts, b.leads, b.queued) d, metrics_grains(d.owner, d.source, d.segment) g) d
         GROUP BY {_REVENUE_KEY}
        HAVING sum(n) <> 0 OR sum(valued) <> 0 OR sum(amount) <> 0
         ORDER BY {_REVENUE_KEY}
        ON CONFLICT ({_REVENUE_KEY}) DO UPDATE SET
          n = m.n + excluded.n, valued = m.valued + excluded.valued,
          amount = m.amount + excluded.amount
        RETURNING 1),""")
    return f"""
CREATE OR REPLACE FUNCTION metrics_fold() RETURNS bigint LANGUAGE plpgsql SET jit TO 'off' AS $$
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
        RETURNING 1),{revenue}
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
        INSERT INTO metrics_losses AS m ({losses_key}, n{money(", amount, valued")})
        SELECT {losses_key}, sum(n){money(", sum(amount), sum(valued)")}
          FROM batch b,
               LATERAL (SELECT * FROM metrics_losses_deltas(b.facts, b.leads, b.queued)) d
         GROUP BY {losses_key} HAVING sum(n) <> 0
         ORDER BY {losses_key}
        ON CONFLICT ({losses_key}) DO UPDATE SET
          n = m.n + excluded.n{money(", amount = m.amount + excluded.amount, valued = m.valued + excluded.valued")}
        RETURNING 1)
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
$$
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

  INSERT INTO metrics_pipeline (pipeline, status, owner, source, segment, revisit_month, n)
  SELECT k.pipeline, k.status, k.owner, k.source, k.segment, k.revisit_month, count(*)
    FROM leads l,
         LATERAL metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                      l.segment, l.revisit_at, 1) k
   GROUP BY 1, 2, 3, 4, 5, 6;
  DROP TABLE latest_closings;
END $function$
;
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
           metrics_pipeline, metrics_cohorts, metrics_closings, metrics_reopenings, metrics_durations, metrics_losses;

  CREATE TEMP TABLE latest_closings ON COMMIT DROP AS
    SELECT DISTINCT ON (c.lead_id) c.lead_id, c.at, c.pipeline, c.to_outcome, c.owner,
           c.source, c.segment, l.created_at
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

  INSERT INTO metrics_losses (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n)
  SELECT o.overall, metrics_day(at), pipeline, CASE WHEN o.overall THEN NULL ELSE owner END,
         CASE WHEN o.overall THEN NULL ELSE source END,
         CASE WHEN o.overall THEN NULL ELSE segment END,
         to_outcome, reason, from_status, competitor, count(*)
    FROM lead_status_changes c, (VALUES (false), (true)) o(overall)
   WHERE c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap' AND to_outcome IN ('lost', 'no_decision')
   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

  INSERT INTO metrics_pipeline (pipeline, status, owner, source, segment, revisit_month, n)
  SELECT k.pipeline, k.status, k.owner, k.source, k.segment, k.revisit_month, count(*)
    FROM leads l,
         LATERAL metrics_standing_key(l.pipeline, l.status, l.outcome, l.owner, l.source,
                                      l.segment, l.revisit_at, 1) k
   GROUP BY 1, 2, 3, 4, 5, 6;
  DROP TABLE latest_closings;
END $function$
;
"""


_PIPELINE_VIEW = """
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
 SELECT metrics_pipeline_deltas.pipeline,
    metrics_pipeline_deltas.status,
    metrics_pipeline_deltas.owner,
    metrics_pipeline_deltas.source,
    metrics_pipeline_deltas.segment,
    metrics_pipeline_deltas.revisit_month,
    metrics_pipeline_deltas.n
   FROM metrics_pipeline_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_pipeline_deltas(pipeline, status, owner, source, segment, revisit_month, n)
"""
"""Unchanged, but made again whenever the facts gain or lose attributes: a view keeps the
column list of a function's result as it was when the view was made."""


def upgrade() -> None:
    op.execute(
        "ALTER TABLE lead_status_changes ADD COLUMN estimated_value numeric(14, 2),"
        " ADD COLUMN currency text"
    )
    # The history is append-only; this fills the new columns of the rows already there.
    op.execute("ALTER TABLE lead_status_changes DISABLE TRIGGER lead_status_changes_append_only")
    op.execute(
        "UPDATE lead_status_changes c SET estimated_value = l.estimated_value,"
        " currency = l.currency FROM leads l"
        " WHERE l.id = c.lead_id AND (l.estimated_value IS NOT NULL OR l.currency IS NOT NULL)"
    )
    op.execute("ALTER TABLE lead_status_changes ENABLE TRIGGER lead_status_changes_append_only")
    op.execute("ALTER TYPE metrics_fact ADD ATTRIBUTE amount numeric, ADD ATTRIBUTE currency text")
    op.execute(_facts(with_amounts=True))
    op.execute(_PIPELINE_VIEW)
    op.execute(
        f"""
        CREATE TABLE metrics_revenue (
            grain text NOT NULL, day date NOT NULL, pipeline text NOT NULL,
            owner text, source text, segment text, outcome text NOT NULL, currency text,
            n integer NOT NULL DEFAULT 0, valued integer NOT NULL DEFAULT 0,
            amount numeric NOT NULL DEFAULT 0,
            CONSTRAINT ck_metrics_revenue_grain_known
              CHECK (grain IN ('full', 'owner', 'source', 'segment', 'all'))
        )
        """
    )
    op.execute(
        f"CREATE UNIQUE INDEX uq_metrics_revenue_key ON metrics_revenue ({_REVENUE_KEY})"
        " INCLUDE (n, valued, amount) NULLS NOT DISTINCT"
    )
    op.execute(_REVENUE_DELTAS)
    op.execute(_REVENUE_VIEW)
    op.execute("DROP VIEW metrics_losses_now")
    op.execute(
        "ALTER TABLE metrics_losses ADD COLUMN currency text,"
        " ADD COLUMN amount numeric NOT NULL DEFAULT 0,"
        " ADD COLUMN valued integer NOT NULL DEFAULT 0"
    )
    op.execute("DROP INDEX uq_metrics_losses_key")
    op.execute(
        f"CREATE UNIQUE INDEX uq_metrics_losses_key ON metrics_losses ({_LOSSES_KEY}, currency)"
        " INCLUDE (n, valued, amount) NULLS NOT DISTINCT"
    )
    op.execute(_LOSSES_DELTAS)
    op.execute(_losses_view(with_amounts=True))
    op.execute(_fold(with_amounts=True))
    op.execute(_REBUILD)
    op.execute("SELECT metrics_rebuild()")


def downgrade() -> None:
    op.execute("DROP VIEW metrics_losses_now, metrics_revenue_now")
    op.execute("DROP FUNCTION metrics_revenue_deltas")
    op.execute("DROP TABLE metrics_revenue")
    op.execute("DROP INDEX uq_metrics_losses_key")
    op.execute("ALTER TABLE metrics_losses DROP COLUMN currency, DROP COLUMN amount, DROP COLUMN valued")
    op.execute(
        f"CREATE UNIQUE INDEX uq_metrics_losses_key ON metrics_losses ({_LOSSES_KEY})"
        " INCLUDE (n) NULLS NOT DISTINCT"
    )
    op.execute(_LOSSES_DELTAS_BEFORE)
    op.execute("DROP VIEW metrics_pipeline_now")
    op.execute("ALTER TYPE metrics_fact DROP ATTRIBUTE amount, DROP ATTRIBUTE currency")
    op.execute(_facts(with_amounts=False))
    op.execute(_PIPELINE_VIEW)
    op.execute(_losses_view(with_amounts=False))
    op.execute(_fold(with_amounts=False))
    op.execute(_REBUILD_BEFORE)
    op.execute("SELECT metrics_rebuild()")
    op.execute("ALTER TABLE lead_status_changes DROP COLUMN estimated_value, DROP COLUMN currency")
