-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.lead_created_at_frozen()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF EXISTS (SELECT 1 FROM lead_status_changes WHERE lead_id = OLD.id) THEN
    -- Durations were measured from the old creation time: the history would lie.
    RAISE EXCEPTION 'the creation time of lead % cannot change once it has status changes',
      OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$function$
;
