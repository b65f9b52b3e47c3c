-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.events_on_new_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  INSERT INTO events (type, lead_id, sequence, pipeline, lead)
    VALUES ('lead.created', NEW.id, NEW.version, NEW.pipeline, NEW);
  RETURN NULL;
END $function$
;
