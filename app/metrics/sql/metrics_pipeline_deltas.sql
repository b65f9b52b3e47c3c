-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

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
;
