-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.events_on_pipeline_version()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  INSERT INTO events (type, occurred_at, sequence, pipeline, details)
    VALUES ('pipeline.changed', NEW.created_at, NEW.version, NEW.pipeline,
            jsonb_build_object('version', NEW.version, 'created_by', NEW.created_by,
                               'changes', to_jsonb(NEW.changes), 'remap', NEW.remap));
  RETURN NULL;
END $function$
;
