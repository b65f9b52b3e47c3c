-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_cohort_delta(day date, pipeline text, owner text, source text, segment text, m integer, n bigint)
 RETURNS metrics_daily
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT ROW(day, pipeline, owner, source, segment, n, CASE WHEN m & 4096 <> 0 THEN n ELSE 0 END, CASE WHEN m & 2 <> 0 THEN n ELSE 0 END, CASE WHEN m & 4 <> 0 THEN n ELSE 0 END, CASE WHEN m & 8 <> 0 THEN n ELSE 0 END, CASE WHEN m & 16 <> 0 THEN n ELSE 0 END, CASE WHEN m & 32 <> 0 THEN n ELSE 0 END, CASE WHEN m & 64 <> 0 THEN n ELSE 0 END, CASE WHEN m & 128 <> 0 THEN n ELSE 0 END, CASE WHEN m & 256 <> 0 THEN n ELSE 0 END, CASE WHEN m & 512 <> 0 THEN n ELSE 0 END, CASE WHEN m & 1024 <> 0 THEN n ELSE 0 END, CASE WHEN m & 2048 <> 0 THEN n ELSE 0 END, CASE WHEN m & 1 <> 0 AND m >= 2 THEN n ELSE 0 END, CASE WHEN m & 2 <> 0 AND m >= 4 THEN n ELSE 0 END, CASE WHEN m & 4 <> 0 AND m >= 8 THEN n ELSE 0 END, CASE WHEN m & 8 <> 0 AND m >= 16 THEN n ELSE 0 END, CASE WHEN m & 16 <> 0 AND m >= 32 THEN n ELSE 0 END, CASE WHEN m & 32 <> 0 AND m >= 64 THEN n ELSE 0 END, CASE WHEN m & 64 <> 0 AND m >= 128 THEN n ELSE 0 END, CASE WHEN m & 128 <> 0 AND m >= 256 THEN n ELSE 0 END, CASE WHEN m & 256 <> 0 AND m >= 512 THEN n ELSE 0 END, CASE WHEN m & 512 <> 0 AND m >= 1024 THEN n ELSE 0 END, CASE WHEN m & 1024 <> 0 AND m >= 2048 THEN n ELSE 0 END, CASE WHEN m & 2048 <> 0 AND m >= 4096 THEN n ELSE 0 END, 0, 0, 0, 0, 0, 0, 0, 0)::metrics_daily $function$
;
