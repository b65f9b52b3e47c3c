-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE VIEW metrics_revenue_now AS
 SELECT metrics_revenue.grain,
    metrics_revenue.day,
    metrics_revenue.pipeline,
    metrics_revenue.owner,
    metrics_revenue.source,
    metrics_revenue.segment,
    metrics_revenue.outcome,
    metrics_revenue.currency,
    metrics_revenue.n,
    metrics_revenue.valued,
    metrics_revenue.amount
   FROM metrics_revenue
UNION ALL
 SELECT g.grain,
    d.day,
    d.pipeline,
    g.owner,
    g.source,
    g.segment,
    d.outcome,
    d.currency,
    d.n,
    d.valued,
    d.amount
   FROM metrics_revenue_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency, probability, close_date)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) d(grain, day, pipeline, owner, source, segment, outcome, currency, n, valued, amount),
    LATERAL metrics_grains(d.owner, d.source, d.segment) g(grain, owner, source, segment)
  WHERE (EXISTS ( SELECT
           FROM metrics_pending_changes)) OR (EXISTS ( SELECT
           FROM metrics_pending_leads)) OR (EXISTS ( SELECT
           FROM metrics_pending));
