-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_on_status_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          INSERT INTO metrics_pending_changes VALUES (NEW.id);
          RETURN NULL;
        END $function$
;
