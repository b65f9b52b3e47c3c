-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_reopenings_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_reopenings
 LANGUAGE sql
 IMMUTABLE
AS $function$ 
        SELECT 'full', metrics_day(f.at), f.pipeline, f.owner, f.source, f.segment, 1, 0
          FROM unnest(facts) f WHERE f.reopened
        UNION ALL
        SELECT 'full', metrics_day((f.last_reopen).at), (f.last_reopen).pipeline, (f.last_reopen).owner, (f.last_reopen).source, (f.last_reopen).segment, 0, 1
          FROM unnest(facts) f
         WHERE f.closes AND f.to_outcome = 'won' AND (f.last_reopen).id IS NOT NULL
         $function$
;
