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
 SELECT pending.measure,
    pending.dimension,
    pending.status,
    pending.day,
    pending.pipeline,
    pending.value,
    pending.days,
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
         SELECT d.measure,
            d.dimension,
            d.status,
            d.day,
            d.pipeline,
            d.value,
            d.days,
            d.n
           FROM metrics_pending p,
            LATERAL unnest(p.durations) d(measure, dimension, status, day, pipeline, value, days, n)
        UNION ALL
         SELECT d.measure,
            d.dimension,
            d.status,
            d.day,
            d.pipeline,
            d.value,
            d.days,
            d.n
           FROM ( SELECT metrics_day(facts.at) AS day,
                    'stay'::text AS measure,
                    facts.from_status AS status,
                    facts.pipeline,
                    facts.owner,
                    facts.source,
                    facts.segment,
                    metrics_days(facts.entered, facts.at) AS days,
                    count(*) AS n
                   FROM facts
                  WHERE facts.from_outcome = 'open'::text
                  GROUP BY (metrics_day(facts.at)), 'stay'::text, facts.from_status, facts.pipeline, facts.owner, facts.source, facts.segment, (metrics_days(facts.entered, facts.at))
                UNION ALL
                 SELECT metrics_day(facts.at) AS metrics_day,
                    'cycle'::text,
                    'won'::text,
                    facts.pipeline,
                    facts.owner,
                    facts.source,
                    facts.segment,
                    metrics_days(facts.created_at, facts.at) AS metrics_days,
                    count(*) AS count
                   FROM facts
                  WHERE facts.closes AND facts.to_outcome = 'won'::text
                  GROUP BY (metrics_day(facts.at)), 'cycle'::text, 'won'::text, facts.pipeline, facts.owner, facts.source, facts.segment, (metrics_days(facts.created_at, facts.at))) g,
            LATERAL unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.pipeline, g.owner, g.source, g.segment, g.days, g.n)) d(measure, dimension, status, day, pipeline, value, days, n)) pending;
