-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.pipeline_reasons_compile()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
    BEGIN
      EXECUTE format($f$
        CREATE OR REPLACE FUNCTION pipeline_has_move(p text, v integer, to_status text, to_outcome text, reopened boolean, code text) RETURNS boolean
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $body$
        DECLARE
          key text := CASE WHEN reopened THEN 'reopen:' ELSE '' END || to_status || '/' || to_outcome || '/' || code;
        BEGIN
        %s
          RAISE EXCEPTION 'pipeline %% version %% has no change to %% (outcome %%) with reason %%', p, v, to_status, to_outcome, code USING ERRCODE = 'foreign_key_violation';
        END $body$ $f$, pipeline_check_branches($q$SELECT pipeline, version, CASE WHEN reopened THEN 'reopen:' ELSE '' END || to_status || '/' || to_outcome || '/' || code AS key FROM (SELECT pipeline, version, to_status, to_outcome, reopened, code FROM pipeline_reasons) r$q$));
    END $function$
;
