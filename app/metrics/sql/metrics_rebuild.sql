-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

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
;
