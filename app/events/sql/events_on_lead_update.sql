-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.events_on_lead_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
  after jsonb;
  before jsonb;
BEGIN
  -- A status change has its own event, from its history row.
  IF OLD.status IS DISTINCT FROM NEW.status OR OLD.version IS NOT DISTINCT FROM NEW.version
     OR current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  -- What changed is found in the JSON both rows read as; the event keeps the row.
  after := events_lead(NEW);
  before := events_lead(OLD);
  INSERT INTO events (type, lead_id, sequence, pipeline, lead, details)
    SELECT 'lead.updated', NEW.id, NEW.version, NEW.pipeline, NEW,
           jsonb_build_object(
             'changed', coalesce(jsonb_agg(a.key ORDER BY a.key), '[]'),
             'previous', coalesce(jsonb_object_agg(a.key, before -> a.key), '{}'))
      FROM jsonb_each(after) a
     WHERE a.key NOT IN ('version', 'updated_at') AND a.value IS DISTINCT FROM before -> a.key;
  RETURN NULL;
END $function$
;
