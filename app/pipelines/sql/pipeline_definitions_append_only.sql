-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.pipeline_definitions_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      IF TG_OP = 'TRUNCATE' AND current_setting('leadstatus.pipeline_reset', true) = 'on' THEN
        RETURN NULL;
      END IF;
      RAISE EXCEPTION 'pipeline versions are immutable: % of % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
    END $function$
;
