-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

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
;
