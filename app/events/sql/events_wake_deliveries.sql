-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.events_wake_deliveries()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  -- Only when a process waits for work it has (one that left a row over 10 s ago is gone): a
  -- publisher, to which every event is news, or a delivery process with an endpoint to send
  -- to. Otherwise a write pays a lookup or two in tiny tables.
  IF EXISTS (SELECT 1 FROM webhook_listeners
              WHERE since > now() - interval '10 seconds'
                AND (publishing OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled))) THEN
    PERFORM pg_notify('leadstatus_events', '');
  END IF;
  RETURN NULL;
END $function$
;
