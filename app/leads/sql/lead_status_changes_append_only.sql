-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.lead_status_changes_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        BEGIN
          RAISE EXCEPTION 'the status history is append-only: % of a row is refused', TG_OP
            USING ERRCODE = 'restrict_violation';
        END $function$
;
