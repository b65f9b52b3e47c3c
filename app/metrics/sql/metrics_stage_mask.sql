-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_stage_mask(lead bigint)
 RETURNS integer
 LANGUAGE sql
 STABLE
AS $function$
          SELECT 1 | coalesce(bit_or(CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END), 0)
            FROM lead_status_changes c LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
           WHERE c.lead_id = lead
        $function$
;
