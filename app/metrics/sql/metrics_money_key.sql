-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_money_key(pipeline text, status text, outcome text, owner text, source text, segment text, currency text, amount numeric, probability double precision, close_date date, n integer)
 RETURNS SETOF metrics_open_money
 LANGUAGE sql
 IMMUTABLE
AS $function$
          -- Open deals only: no row for a closed lead.
          SELECT pipeline, status, owner, source, segment, currency,
                 date_trunc('month', close_date)::date,
                 n, n * (amount IS NOT NULL)::int, n * coalesce(amount, 0),
                 CASE WHEN probability IS NOT NULL THEN n * coalesce(amount, 0) ELSE 0 END,
                 n * coalesce(amount * probability::numeric, 0)
           WHERE outcome = 'open'
        $function$
;
