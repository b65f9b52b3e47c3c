-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.events_lead(l leads)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
  -- The amount as the decimal string the API answers, not a JSON number a reader may round.
  SELECT to_jsonb(l) || jsonb_build_object('estimated_value', l.estimated_value::text)
$function$
;
