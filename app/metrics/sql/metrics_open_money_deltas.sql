-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_open_money_deltas(facts metrics_fact[], leads metrics_pending_leads[], queued metrics_pending[])
 RETURNS SETOF metrics_open_money
 LANGUAGE sql
 IMMUTABLE
AS $function$
        SELECT d.* FROM unnest(queued) q, unnest(q.open_money) d
        UNION ALL
        SELECT k.* FROM unnest(facts) f,
               metrics_money_key(f.pipeline, f.from_status, f.from_outcome, f.owner, f.source,
                                 f.segment, f.currency, f.amount, f.probability, f.close_date,
                                 -1) k
        UNION ALL
        SELECT k.* FROM unnest(facts) f,
               metrics_money_key(f.pipeline, f.to_status, f.to_outcome, f.owner, f.source,
                                 f.segment, f.currency, f.amount, f.probability, f.close_date,
                                 1) k
        UNION ALL
        SELECT k.* FROM unnest(leads) l,
               metrics_money_key(l.pipeline, l.status, l.outcome, l.owner, l.source, l.segment,
                                 l.currency, l.estimated_value, l.probability,
                                 l.expected_close_date, 1) k
        $function$
;
