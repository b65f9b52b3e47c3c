-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_standing_key(pipeline text, status text, outcome text, owner text, source text, segment text, revisit_at timestamp with time zone, n integer)
 RETURNS metrics_pipeline
 LANGUAGE sql
 IMMUTABLE
AS $function$
          SELECT ROW(pipeline, status, owner, source, segment,
                     CASE WHEN outcome <> 'open'
                          THEN date_trunc('month', revisit_at AT TIME ZONE 'UTC')::date END,
                     n)::metrics_pipeline
        $function$
;
