-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.events_on_status_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  -- An AFTER trigger runs once the statement is done: the lead row is the one it left.
  INSERT INTO events (type, lead_id, sequence, pipeline, change_id, lead)
    SELECT 'lead.status_changed', l.id, l.version, NEW.pipeline, NEW.id, l
      FROM leads l WHERE l.id = NEW.lead_id;
  RETURN NULL;
END $function$
;
