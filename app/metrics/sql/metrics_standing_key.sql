-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_standing_key(pipeline text, status text, outcome text, owner text, source text, segment text, revisit_at timestamp with time zone, currency text, amount numeric, probability double precision, close_date date, n integer)
 RETURNS metrics_pipeline
 LANGUAGE sql
 IMMUTABLE
AS $function$
          -- Only open deals carry money here (the forecast's); a closed lead's standing keeps
          -- one row per revisit month, whatever its currency.
          SELECT ROW(pipeline, status, owner, source, segment,
                     CASE WHEN outcome <> 'open'
                          THEN date_trunc('month', revisit_at AT TIME ZONE 'UTC')::date END,
                     n,
                     CASE WHEN outcome = 'open' THEN currency END,
                     CASE WHEN outcome = 'open' THEN date_trunc('month', close_date)::date END,
                     CASE WHEN outcome = 'open' THEN n * coalesce(amount, 0) ELSE 0 END,
                     CASE WHEN outcome = 'open' THEN n * (amount IS NOT NULL)::int ELSE 0 END,
                     CASE WHEN outcome = 'open' AND probability IS NOT NULL
                          THEN n * coalesce(amount, 0) ELSE 0 END,
                     CASE WHEN outcome = 'open'
                          THEN n * coalesce(amount * probability::numeric, 0) ELSE 0 END
                    )::metrics_pipeline
        $function$
;
