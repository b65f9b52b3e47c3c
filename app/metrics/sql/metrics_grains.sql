-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_grains(o text, s text, g text)
 RETURNS TABLE(grain text, owner text, source text, segment text)
 LANGUAGE sql
 IMMUTABLE
AS $function$
  VALUES ('full', o, s, g), ('owner', o, NULL, NULL), ('source', NULL, s, NULL),
         ('segment', NULL, NULL, g), ('all', NULL, NULL, NULL)
$function$
;
