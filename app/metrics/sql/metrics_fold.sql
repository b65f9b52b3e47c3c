-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

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
;
