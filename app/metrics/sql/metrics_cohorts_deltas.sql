-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_cohorts_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_cohorts
 LANGUAGE sql
 IMMUTABLE
AS $function$ 
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
         $function$
;
