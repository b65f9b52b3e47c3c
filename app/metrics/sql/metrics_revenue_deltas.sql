-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_revenue_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_revenue
 LANGUAGE sql
 IMMUTABLE
AS $function$
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
$function$
;
