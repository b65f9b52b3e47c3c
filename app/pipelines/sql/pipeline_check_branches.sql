-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.pipeline_check_branches(keyed text)
 RETURNS text
 LANGUAGE plpgsql
AS $function$
DECLARE
  branches text;
BEGIN
  EXECUTE format($q$
    SELECT string_agg(branch, E'\n' ORDER BY pipeline) FROM (
      SELECT pipeline, format(E'  IF p = %%L THEN\n%%s\n  END IF;', pipeline, string_agg(format(
               '    IF v = ANY (%%L::integer[]) AND key = ANY (%%L::text[]) THEN'
               ' RETURN true; END IF;', versions, keys), E'\n' ORDER BY versions)) AS branch
        FROM (SELECT pipeline, keys, array_agg(version ORDER BY version) AS versions
                FROM (SELECT pipeline, version, array_agg(key ORDER BY key) AS keys
                        FROM (%s) k GROUP BY pipeline, version) per_version
               GROUP BY pipeline, keys) per_set
       GROUP BY pipeline) per_pipeline $q$, keyed) INTO branches;
  RETURN coalesce(branches, '');
END $function$
;
