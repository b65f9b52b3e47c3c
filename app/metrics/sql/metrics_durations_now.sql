-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE VIEW metrics_durations_now AS
 SELECT metrics_durations.measure,
    metrics_durations.dimension,
    metrics_durations.status,
    metrics_durations.day,
    metrics_durations.pipeline,
    metrics_durations.value,
    metrics_durations.days,
    metrics_durations.n
   FROM metrics_durations
UNION ALL
 SELECT metrics_durations_deltas.measure,
    metrics_durations_deltas.dimension,
    metrics_durations_deltas.status,
    metrics_durations_deltas.day,
    metrics_durations_deltas.pipeline,
    metrics_durations_deltas.value,
    metrics_durations_deltas.days,
    metrics_durations_deltas.n
   FROM metrics_durations_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency, probability, close_date)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_durations_deltas(measure, dimension, status, day, pipeline, value, days, n)
  WHERE (EXISTS ( SELECT
           FROM metrics_pending_changes)) OR (EXISTS ( SELECT
           FROM metrics_pending_leads)) OR (EXISTS ( SELECT
           FROM metrics_pending));
