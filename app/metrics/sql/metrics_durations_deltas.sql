-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_durations_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_durations
 LANGUAGE sql
 IMMUTABLE
AS $function$ 
        SELECT d.*
          FROM (SELECT metrics_day(f.at) AS day, 'stay' AS measure, f.from_status AS status,
                       f.pipeline, f.owner, f.source, f.segment,
                       metrics_days(f.entered, f.at) AS days
                  FROM unnest(facts) f WHERE f.from_outcome = 'open'
                UNION ALL
                SELECT metrics_day(f.at), 'cycle', 'won', f.pipeline, f.owner, f.source,
                       f.segment, metrics_days(f.created_at, f.at)
                  FROM unnest(facts) f WHERE f.closes AND f.to_outcome = 'won') g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.pipeline, g.owner,
                                              g.source, g.segment, g.days, 1)) d
         $function$
;
