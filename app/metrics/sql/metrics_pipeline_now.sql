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
 SELECT metrics_pipeline_deltas.pipeline,
    metrics_pipeline_deltas.status,
    metrics_pipeline_deltas.owner,
    metrics_pipeline_deltas.source,
    metrics_pipeline_deltas.segment,
    metrics_pipeline_deltas.revisit_month,
    metrics_pipeline_deltas.n
   FROM metrics_pipeline_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency, probability, close_date)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_pipeline_deltas(pipeline, status, owner, source, segment, revisit_month, n)
  WHERE (EXISTS ( SELECT
           FROM metrics_pending_changes)) OR (EXISTS ( SELECT
           FROM metrics_pending_leads)) OR (EXISTS ( SELECT
           FROM metrics_pending));
