-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE VIEW metrics_losses_now AS
 SELECT metrics_losses.overall,
    metrics_losses.day,
    metrics_losses.pipeline,
    metrics_losses.owner,
    metrics_losses.source,
    metrics_losses.segment,
    metrics_losses.status,
    metrics_losses.reason,
    metrics_losses.from_status,
    metrics_losses.competitor,
    metrics_losses.n
   FROM metrics_losses
UNION ALL
 SELECT pending.overall,
    pending.day,
    pending.pipeline,
    pending.owner,
    pending.source,
    pending.segment,
    pending.status,
    pending.reason,
    pending.from_status,
    pending.competitor,
    pending.n
   FROM ( WITH facts AS MATERIALIZED (
                 SELECT metrics_change_facts.at,
                    metrics_change_facts.created_at,
                    metrics_change_facts.entered,
                    metrics_change_facts.pipeline,
                    metrics_change_facts.from_status,
                    metrics_change_facts.to_status,
                    metrics_change_facts.from_outcome,
                    metrics_change_facts.to_outcome,
                    metrics_change_facts.closes,
                    metrics_change_facts.reason,
                    metrics_change_facts.competitor,
                    metrics_change_facts.reopened,
                    metrics_change_facts.owner,
                    metrics_change_facts.source,
                    metrics_change_facts.segment,
                    metrics_change_facts.revisit_at,
                    metrics_change_facts.standing_before,
                    metrics_change_facts.old_mask,
                    metrics_change_facts.new_mask,
                    metrics_change_facts.prev_closing,
                    metrics_change_facts.last_reopen
                   FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                           FROM metrics_pending_changes)) metrics_change_facts(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)
                )
         SELECT d.overall,
            d.day,
            d.pipeline,
            d.owner,
            d.source,
            d.segment,
            d.status,
            d.reason,
            d.from_status,
            d.competitor,
            d.n
           FROM metrics_pending p,
            LATERAL unnest(p.losses) d(overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n)
        UNION ALL
         SELECT o.overall,
            metrics_day(facts.at) AS metrics_day,
            facts.pipeline,
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.owner
                END AS owner,
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.source
                END AS source,
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.segment
                END AS segment,
            facts.to_outcome,
            facts.reason,
            facts.from_status,
            facts.competitor,
            count(*) AS count
           FROM facts,
            ( VALUES (false), (true)) o(overall)
          WHERE facts.closes AND (facts.to_outcome = ANY (ARRAY['lost'::text, 'no_decision'::text]))
          GROUP BY o.overall, (metrics_day(facts.at)), facts.pipeline, (
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.owner
                END), (
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.source
                END), (
                CASE
                    WHEN o.overall THEN NULL::text
                    ELSE facts.segment
                END), facts.to_outcome, facts.reason, facts.from_status, facts.competitor) pending;
