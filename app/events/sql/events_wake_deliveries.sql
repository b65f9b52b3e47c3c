-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.events_wake_deliveries()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  -- Only while someone listens for deliveries: with no endpoint, a write pays one index probe.
  IF EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
    PERFORM pg_notify('leadstatus_events', '');
  END IF;
  RETURN NULL;
END $function$
;
