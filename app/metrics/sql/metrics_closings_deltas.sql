-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_closings_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_closings
 LANGUAGE sql
 IMMUTABLE
AS $function$ 
        SELECT 'full', metrics_day((f.prev_closing).at), (f.prev_closing).pipeline, (f.prev_closing).owner, (f.prev_closing).source, (f.prev_closing).segment, (f.prev_closing).to_outcome, -1
          FROM unnest(facts) f WHERE f.closes AND (f.prev_closing).id IS NOT NULL
        UNION ALL
        SELECT 'full', metrics_day(f.at), f.pipeline, f.owner, f.source, f.segment, f.to_outcome,
               1
          FROM unnest(facts) f WHERE f.closes
         $function$
;
