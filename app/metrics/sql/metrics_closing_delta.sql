-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_closing_delta(day date, pipeline text, owner text, source text, segment text, outcome text, n bigint)
 RETURNS metrics_daily
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT ROW(day, pipeline, owner, source, segment, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, CASE WHEN outcome = 'won' THEN n ELSE 0 END, CASE WHEN outcome = 'lost' THEN n ELSE 0 END, CASE WHEN outcome = 'no_decision' THEN n ELSE 0 END, CASE WHEN outcome = 'recycled' THEN n ELSE 0 END, CASE WHEN outcome = 'disqualified' THEN n ELSE 0 END, CASE WHEN outcome = 'dead' THEN n ELSE 0 END, 0, 0)::metrics_daily $function$
;
