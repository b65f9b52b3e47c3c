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
    metrics_losses.n,
    metrics_losses.currency,
    metrics_losses.amount,
    metrics_losses.valued
   FROM metrics_losses
UNION ALL
 SELECT metrics_losses_deltas.overall,
    metrics_losses_deltas.day,
    metrics_losses_deltas.pipeline,
    metrics_losses_deltas.owner,
    metrics_losses_deltas.source,
    metrics_losses_deltas.segment,
    metrics_losses_deltas.status,
    metrics_losses_deltas.reason,
    metrics_losses_deltas.from_status,
    metrics_losses_deltas.competitor,
    metrics_losses_deltas.n,
    metrics_losses_deltas.currency,
    metrics_losses_deltas.amount,
    metrics_losses_deltas.valued
   FROM metrics_losses_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency, probability, close_date)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_losses_deltas(overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n, currency, amount, valued)
  WHERE (EXISTS ( SELECT
           FROM metrics_pending_changes)) OR (EXISTS ( SELECT
           FROM metrics_pending_leads)) OR (EXISTS ( SELECT
           FROM metrics_pending));
