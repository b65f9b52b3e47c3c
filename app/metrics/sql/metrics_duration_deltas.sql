-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_duration_deltas(day date, measure text, status text, pipeline text, owner text, source text, segment text, days integer, n bigint)
 RETURNS metrics_durations[]
 LANGUAGE sql
 IMMUTABLE
AS $function$
          SELECT ARRAY[
            ROW(measure, 'all', status, day, pipeline, NULL, days, n)::metrics_durations,
            ROW(measure, 'owner', status, day, pipeline, owner, days, n)::metrics_durations,
            ROW(measure, 'source', status, day, pipeline, source, days, n)::metrics_durations,
            ROW(measure, 'segment', status, day, pipeline, segment, days, n)::metrics_durations]
        $function$
;
