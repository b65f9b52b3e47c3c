-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE VIEW metrics_pipeline_now AS
 SELECT metrics_pipeline.pipeline,
    metrics_pipeline.status,
    metrics_pipeline.owner,
    metrics_pipeline.source,
    metrics_pipeline.segment,
    metrics_pipeline.revisit_month,
    metrics_pipeline.n
   FROM metrics_pipeline
UNION ALL
 SELECT pending.pipeline,
    pending.status,
    pending.owner,
    pending.source,
    pending.segment,
    pending.revisit_month,
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
         SELECT d.pipeline,
            d.status,
            d.owner,
            d.source,
            d.segment,
            d.revisit_month,
            d.n
           FROM metrics_pending p,
            LATERAL unnest(p.pipeline) d(pipeline, status, owner, source, segment, revisit_month, n)
        UNION ALL
         SELECT (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).pipeline AS pipeline,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).status AS status,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).owner AS owner,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).source AS source,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).segment AS segment,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).revisit_month AS revisit_month,
            (metrics_standing_key(facts.pipeline, facts.from_status, facts.from_outcome, facts.owner, facts.source, facts.segment, facts.standing_before, '-1'::integer)).n AS n
           FROM facts
        UNION ALL
         SELECT (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).pipeline AS pipeline,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).status AS status,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).owner AS owner,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).source AS source,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).segment AS segment,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).revisit_month AS revisit_month,
            (metrics_standing_key(facts.pipeline, facts.to_status, facts.to_outcome, facts.owner, facts.source, facts.segment, facts.revisit_at, 1)).n AS n
           FROM facts
        UNION ALL
         SELECT (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).pipeline AS pipeline,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).status AS status,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).owner AS owner,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).source AS source,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).segment AS segment,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).revisit_month AS revisit_month,
            (metrics_standing_key(metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at, count(*)::integer)).n AS n
           FROM metrics_pending_leads
          GROUP BY metrics_pending_leads.pipeline, metrics_pending_leads.status, metrics_pending_leads.outcome, metrics_pending_leads.owner, metrics_pending_leads.source, metrics_pending_leads.segment, metrics_pending_leads.revisit_at) pending;
