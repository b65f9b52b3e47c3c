-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_reopen_delta(day date, pipeline text, owner text, source text, segment text, reopened bigint, won bigint)
 RETURNS metrics_daily
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT ROW(day, pipeline, owner, source, segment, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, reopened, won)::metrics_daily $function$
;
