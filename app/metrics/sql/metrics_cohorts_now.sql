-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE VIEW metrics_cohorts_now AS
 SELECT metrics_cohorts.grain,
    metrics_cohorts.day,
    metrics_cohorts.pipeline,
    metrics_cohorts.owner,
    metrics_cohorts.source,
    metrics_cohorts.segment,
    metrics_cohorts.stages,
    metrics_cohorts.n
   FROM metrics_cohorts
UNION ALL
 SELECT g.grain,
    d.day,
    d.pipeline,
    g.owner,
    g.source,
    g.segment,
    d.stages,
    d.n
   FROM metrics_cohorts_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency, probability, close_date)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) d(grain, day, pipeline, owner, source, segment, stages, n),
    LATERAL metrics_grains(d.owner, d.source, d.segment) g(grain, owner, source, segment)
  WHERE (EXISTS ( SELECT
           FROM metrics_pending_changes)) OR (EXISTS ( SELECT
           FROM metrics_pending_leads)) OR (EXISTS ( SELECT
           FROM metrics_pending));
