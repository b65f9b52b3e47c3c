-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_fold()
 RETURNS bigint
 LANGUAGE plpgsql
 SET jit TO 'off'
AS $function$
    DECLARE
      moved bigint;
    BEGIN
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      facts AS (SELECT * FROM metrics_change_facts(ARRAY(SELECT change_id FROM moved_changes))),
      
      pipeline AS (
        INSERT INTO metrics_pipeline AS m (pipeline, status, owner, source, segment, revisit_month, n)
        SELECT pipeline, status, owner, source, segment, revisit_month, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.pipeline) d
UNION ALL

        SELECT (metrics_standing_key(pipeline, from_status, from_outcome, owner, source, segment,
                                     standing_before, -1)).* FROM facts
        UNION ALL
        SELECT (metrics_standing_key(pipeline, to_status, to_outcome, owner, source, segment,
                                     revisit_at, 1)).* FROM facts
UNION ALL

        SELECT (metrics_standing_key(pipeline, status, outcome, owner, source, segment,
                                     revisit_at, count(*)::integer)).*
          FROM moved_leads GROUP BY pipeline, status, outcome, owner, source, segment, revisit_at) d
         GROUP BY pipeline, status, owner, source, segment, revisit_month ORDER BY pipeline, status, owner, source, segment, revisit_month
        ON CONFLICT (pipeline, status, owner, source, segment, revisit_month) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      daily AS (
        INSERT INTO metrics_daily AS m (day, pipeline, owner, source, segment, created, won_now, reached_2, reached_3, reached_4, reached_5, reached_6, reached_7, reached_8, reached_9, reached_10, reached_11, reached_12, went_on_1, went_on_2, went_on_3, went_on_4, went_on_5, went_on_6, went_on_7, went_on_8, went_on_9, went_on_10, went_on_11, went_on_12, closed_won, closed_lost, closed_no_decision, closed_recycled, closed_disqualified, closed_dead, reopened, reopened_won)
        SELECT day, pipeline, owner, source, segment, sum(created), sum(won_now), sum(reached_2), sum(reached_3), sum(reached_4), sum(reached_5), sum(reached_6), sum(reached_7), sum(reached_8), sum(reached_9), sum(reached_10), sum(reached_11), sum(reached_12), sum(went_on_1), sum(went_on_2), sum(went_on_3), sum(went_on_4), sum(went_on_5), sum(went_on_6), sum(went_on_7), sum(went_on_8), sum(went_on_9), sum(went_on_10), sum(went_on_11), sum(went_on_12), sum(closed_won), sum(closed_lost), sum(closed_no_decision), sum(closed_recycled), sum(closed_disqualified), sum(closed_dead), sum(reopened), sum(reopened_won)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.daily) d
UNION ALL

        SELECT (metrics_closing_delta(metrics_day((prev_closing).at), (prev_closing).pipeline, (prev_closing).owner, (prev_closing).source, (prev_closing).segment, (prev_closing).to_outcome, -count(*))).*
          FROM facts WHERE closes AND (prev_closing).id IS NOT NULL
         GROUP BY metrics_day((prev_closing).at), (prev_closing).pipeline, (prev_closing).owner, (prev_closing).source, (prev_closing).segment, (prev_closing).to_outcome
        UNION ALL
        SELECT (metrics_closing_delta(metrics_day(at), pipeline, owner, source, segment,
                                      to_outcome, count(*))).*
          FROM facts WHERE closes
         GROUP BY metrics_day(at), pipeline, owner, source, segment, to_outcome
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day((last_reopen).at), (last_reopen).pipeline, (last_reopen).owner, (last_reopen).source, (last_reopen).segment, 0, count(*))).*
          FROM facts WHERE closes AND to_outcome = 'won' AND (last_reopen).id IS NOT NULL
         GROUP BY metrics_day((last_reopen).at), (last_reopen).pipeline, (last_reopen).owner, (last_reopen).source, (last_reopen).segment
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day(at), pipeline, owner, source, segment, count(*),
                                     0)).*
          FROM facts WHERE reopened
         GROUP BY metrics_day(at), pipeline, owner, source, segment
        UNION ALL
        SELECT (metrics_cohort_delta(g.day, g.pipeline, g.owner, g.source, g.segment, m.mask,
                                     m.n)).*
          FROM (SELECT metrics_day(created_at) AS day, pipeline, owner, source, segment, old_mask,
                       new_mask, count(*) AS n
                  FROM facts WHERE new_mask <> old_mask
                 GROUP BY 1, 2, 3, 4, 5, 6, 7) g,
               LATERAL (VALUES (g.old_mask, -g.n), (g.new_mask, g.n)) AS m(mask, n)
UNION ALL

        SELECT (metrics_cohort_delta(metrics_day(created_at), pipeline, owner, source, segment,
                                     1, count(*))).*
          FROM moved_leads GROUP BY metrics_day(created_at), pipeline, owner, source, segment) d
         GROUP BY day, pipeline, owner, source, segment ORDER BY day, pipeline, owner, source, segment
        ON CONFLICT (day, pipeline, owner, source, segment) DO UPDATE SET
          created = m.created + excluded.created, won_now = m.won_now + excluded.won_now, reached_2 = m.reached_2 + excluded.reached_2, reached_3 = m.reached_3 + excluded.reached_3, reached_4 = m.reached_4 + excluded.reached_4, reached_5 = m.reached_5 + excluded.reached_5, reached_6 = m.reached_6 + excluded.reached_6, reached_7 = m.reached_7 + excluded.reached_7, reached_8 = m.reached_8 + excluded.reached_8, reached_9 = m.reached_9 + excluded.reached_9, reached_10 = m.reached_10 + excluded.reached_10, reached_11 = m.reached_11 + excluded.reached_11, reached_12 = m.reached_12 + excluded.reached_12, went_on_1 = m.went_on_1 + excluded.went_on_1, went_on_2 = m.went_on_2 + excluded.went_on_2, went_on_3 = m.went_on_3 + excluded.went_on_3, went_on_4 = m.went_on_4 + excluded.went_on_4, went_on_5 = m.went_on_5 + excluded.went_on_5, went_on_6 = m.went_on_6 + excluded.went_on_6, went_on_7 = m.went_on_7 + excluded.went_on_7, went_on_8 = m.went_on_8 + excluded.went_on_8, went_on_9 = m.went_on_9 + excluded.went_on_9, went_on_10 = m.went_on_10 + excluded.went_on_10, went_on_11 = m.went_on_11 + excluded.went_on_11, went_on_12 = m.went_on_12 + excluded.went_on_12, closed_won = m.closed_won + excluded.closed_won, closed_lost = m.closed_lost + excluded.closed_lost, closed_no_decision = m.closed_no_decision + excluded.closed_no_decision, closed_recycled = m.closed_recycled + excluded.closed_recycled, closed_disqualified = m.closed_disqualified + excluded.closed_disqualified, closed_dead = m.closed_dead + excluded.closed_dead, reopened = m.reopened + excluded.reopened, reopened_won = m.reopened_won + excluded.reopened_won
        RETURNING 1),
      durations AS (
        INSERT INTO metrics_durations AS m (measure, dimension, status, day, pipeline, value, days, n)
        SELECT measure, dimension, status, day, pipeline, value, days, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.durations) d
UNION ALL

        SELECT d.*
          FROM (SELECT metrics_day(at) AS day, 'stay' AS measure, from_status AS status,
                       pipeline, owner, source, segment, metrics_days(entered, at) AS days,
                       count(*) AS n
                  FROM facts WHERE from_outcome = 'open'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
                UNION ALL
                SELECT metrics_day(at), 'cycle', 'won', pipeline, owner, source, segment,
                       metrics_days(created_at, at), count(*)
                  FROM facts WHERE closes AND to_outcome = 'won'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.pipeline, g.owner,
                                              g.source, g.segment, g.days, g.n)) d) d
         GROUP BY measure, dimension, status, day, pipeline, value, days ORDER BY measure, dimension, status, day, pipeline, value, days
        ON CONFLICT (measure, dimension, status, day, pipeline, value, days) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      losses AS (
        INSERT INTO metrics_losses AS m (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n)
        SELECT overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.losses) d
UNION ALL

        SELECT o.overall, metrics_day(at), pipeline,
               CASE WHEN o.overall THEN NULL ELSE owner END,
               CASE WHEN o.overall THEN NULL ELSE source END,
               CASE WHEN o.overall THEN NULL ELSE segment END,
               to_outcome, reason, from_status, competitor, count(*)
          FROM facts, (VALUES (false), (true)) o(overall)
         WHERE closes AND to_outcome IN ('lost', 'no_decision')
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) d
         GROUP BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor ORDER BY overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor
        ON CONFLICT (overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1)
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
    $function$
;
