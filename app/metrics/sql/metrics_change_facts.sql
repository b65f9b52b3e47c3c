-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_change_facts(ids bigint[])
 RETURNS SETOF metrics_fact
 LANGUAGE sql
 STABLE
AS $function$
  SELECT c.at, l.created_at, coalesce(p.entered, l.created_at), c.pipeline, c.from_status,
         c.to_status, c.from_outcome, c.to_outcome, c.to_outcome <> 'open' AND c.reason <> 'pipeline_remap', c.reason,
         c.competitor, c.reopened, c.owner, c.source, c.segment, c.revisit_at,
         p.standing_before, p.old_mask, p.old_mask | CASE WHEN c.to_outcome = 'won' THEN 4096 ELSE coalesce(b.bit, 0) END, p.prev_closing,
         p.last_reopen, c.estimated_value, c.currency, c.probability, c.expected_close_date
    FROM lead_status_changes c
    JOIN leads l ON l.id = c.lead_id
    LEFT JOIN metrics_stages b ON b.pipeline = c.pipeline AND b.version = c.pipeline_version AND b.status = c.to_status
    -- What the lead's earlier changes say: when it entered the status it leaves, the stages
    -- it has held, its latest closing and its latest reopening.
    CROSS JOIN LATERAL (
      SELECT (array_agg(q.at ORDER BY q.id DESC))[1] AS entered,
             (array_agg(q.revisit_at ORDER BY q.id DESC))[1] AS standing_before,
             1 | coalesce(bit_or(CASE WHEN q.to_outcome = 'won' THEN 4096 ELSE coalesce(qb.bit, 0) END), 0) AS old_mask,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.to_outcome <> 'open' AND q.reason <> 'pipeline_remap'))[1]
               AS prev_closing,
             (array_agg(q ORDER BY q.id DESC) FILTER (WHERE q.reopened))[1] AS last_reopen
        FROM lead_status_changes q
        LEFT JOIN metrics_stages qb ON qb.pipeline = q.pipeline AND qb.version = q.pipeline_version AND qb.status = q.to_status
       WHERE q.lead_id = c.lead_id AND q.id < c.id) p
   WHERE c.id = ANY(ids)
$function$
;
