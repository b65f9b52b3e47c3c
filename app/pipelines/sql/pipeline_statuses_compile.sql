-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.pipeline_statuses_compile()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
    BEGIN
      EXECUTE format($f$
        CREATE OR REPLACE FUNCTION pipeline_has_status(p text, v integer, status text, outcome text) RETURNS boolean
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $body$
        DECLARE
          key text := status || '/' || outcome;
        BEGIN
        %s
          RAISE EXCEPTION 'status %% (outcome %%) is not one of pipeline %% version %%', status, outcome, p, v USING ERRCODE = 'foreign_key_violation';
        END $body$ $f$, pipeline_check_branches($q$SELECT pipeline, version, status || '/' || outcome AS key FROM (SELECT pipeline, version, key AS status, outcome FROM pipeline_statuses) r$q$));
    END $function$
;
