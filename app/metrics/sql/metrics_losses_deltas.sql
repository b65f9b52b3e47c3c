-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_losses_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_losses
 LANGUAGE sql
 IMMUTABLE
AS $function$
        SELECT o.overall, metrics_day(f.at), f.pipeline,
               CASE WHEN o.overall THEN NULL ELSE f.owner END,
               CASE WHEN o.overall THEN NULL ELSE f.source END,
               CASE WHEN o.overall THEN NULL ELSE f.segment END,
               f.to_outcome, f.reason, f.from_status, f.competitor, 1,
               f.currency, coalesce(f.amount, 0), (f.amount IS NOT NULL)::int
          FROM unnest(facts) f, (VALUES (false), (true)) o(overall)
         WHERE f.closes AND f.to_outcome IN ('lost', 'no_decision')
$function$
;
