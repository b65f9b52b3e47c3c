-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE VIEW metrics_open_money_now AS
 SELECT metrics_open_money.pipeline,
    metrics_open_money.status,
    metrics_open_money.owner,
    metrics_open_money.source,
    metrics_open_money.segment,
    metrics_open_money.currency,
    metrics_open_money.close_month,
    metrics_open_money.n,
    metrics_open_money.valued,
    metrics_open_money.amount,
    metrics_open_money.own_amount,
    metrics_open_money.own_weighted
   FROM metrics_open_money
UNION ALL
 SELECT metrics_open_money_deltas.pipeline,
    metrics_open_money_deltas.status,
    metrics_open_money_deltas.owner,
    metrics_open_money_deltas.source,
    metrics_open_money_deltas.segment,
    metrics_open_money_deltas.currency,
    metrics_open_money_deltas.close_month,
    metrics_open_money_deltas.n,
    metrics_open_money_deltas.valued,
    metrics_open_money_deltas.amount,
    metrics_open_money_deltas.own_amount,
    metrics_open_money_deltas.own_weighted
   FROM metrics_open_money_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency, probability, close_date)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_open_money_deltas(pipeline, status, owner, source, segment, currency, close_month, n, valued, amount, own_amount, own_weighted)
  WHERE (EXISTS ( SELECT
           FROM metrics_pending_changes)) OR (EXISTS ( SELECT
           FROM metrics_pending_leads)) OR (EXISTS ( SELECT
           FROM metrics_pending));
