"""Compile the write path's database work once per connection, not once per statement.

Two costs that grow with no data but with every write, found by profiling the server under a
transition load (pg_stat_statements and perf):

- The metrics fold is one large statement, and before PostgreSQL 18 a `LANGUAGE sql` function is
  planned afresh on each call: 20-30 ms of planner CPU four times a second. PL/pgSQL keeps the
  statement's plan for the life of the connection. Same statement, same results.
- PostgreSQL reads a table's check constraints back from their stored node text for every INSERT
  statement. 0007's reason check spelled out every (target, reason) pair, so each history insert
  parsed some 30 KB of node text (a fifth of the server's CPU per transition). The same rule now
  lives in an immutable PL/pgSQL function, compiled once per connection, which the check calls.

The codes stay frozen (taken from 0007, as 0007 froze them): a later change comes with its own
migration that replaces the function.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_lead_status_changes_reason_of_target"


# Snapshots of what this revision builds on, so that it reads alone: 0004's fold, and the
# reason rule as 0007 froze it, once as 0007's check and once as the function replacing it.
FOLD_0004 = """
    CREATE OR REPLACE FUNCTION metrics_fold() RETURNS bigint LANGUAGE sql
    SET jit = off AS $$
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      facts AS (SELECT * FROM metrics_change_facts(ARRAY(SELECT change_id FROM moved_changes))),
      
      pipeline AS (
        INSERT INTO metrics_pipeline AS m (status, owner, source, segment, revisit_month, n)
        SELECT status, owner, source, segment, revisit_month, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.pipeline) d
UNION ALL

        SELECT (metrics_standing_key(from_status, owner, source, segment, standing_before,
                                     -1)).* FROM facts
        UNION ALL
        SELECT (metrics_standing_key(to_status, owner, source, segment, revisit_at, 1)).*
          FROM facts
UNION ALL

        SELECT (metrics_standing_key(status, owner, source, segment, revisit_at,
                                     count(*)::integer)).*
          FROM moved_leads GROUP BY status, owner, source, segment, revisit_at) d
         GROUP BY status, owner, source, segment, revisit_month ORDER BY status, owner, source, segment, revisit_month
        ON CONFLICT (status, owner, source, segment, revisit_month) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      daily AS (
        INSERT INTO metrics_daily AS m (day, owner, source, segment, created, won_now, reached_contacted, reached_qualified, reached_negotiating, went_on_new, went_on_contacted, went_on_qualified, went_on_negotiating, closed_won, closed_lost, closed_no_decision, closed_recycled, closed_disqualified, closed_dead, reopened, reopened_won)
        SELECT day, owner, source, segment, sum(created), sum(won_now), sum(reached_contacted), sum(reached_qualified), sum(reached_negotiating), sum(went_on_new), sum(went_on_contacted), sum(went_on_qualified), sum(went_on_negotiating), sum(closed_won), sum(closed_lost), sum(closed_no_decision), sum(closed_recycled), sum(closed_disqualified), sum(closed_dead), sum(reopened), sum(reopened_won)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.daily) d
UNION ALL

        SELECT (metrics_closing_delta(metrics_day((prev_closing).at), (prev_closing).owner, (prev_closing).source,
                                      (prev_closing).segment, (prev_closing).to_status, -count(*))).*
          FROM facts WHERE to_status IN ('won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead') AND (prev_closing).id IS NOT NULL
         GROUP BY metrics_day((prev_closing).at), (prev_closing).owner, (prev_closing).source, (prev_closing).segment,
                  (prev_closing).to_status
        UNION ALL
        SELECT (metrics_closing_delta(metrics_day(at), owner, source, segment, to_status,
                                      count(*))).*
          FROM facts WHERE to_status IN ('won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead')
         GROUP BY metrics_day(at), owner, source, segment, to_status
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day((last_reopen).at), (last_reopen).owner, (last_reopen).source,
                                     (last_reopen).segment, 0, count(*))).*
          FROM facts WHERE to_status = 'won' AND (last_reopen).id IS NOT NULL
         GROUP BY metrics_day((last_reopen).at), (last_reopen).owner, (last_reopen).source, (last_reopen).segment
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day(at), owner, source, segment, count(*), 0)).*
          FROM facts WHERE reopened
         GROUP BY metrics_day(at), owner, source, segment
        UNION ALL
        SELECT (metrics_cohort_delta(g.day, g.owner, g.source, g.segment, m.mask, m.n)).*
          FROM (SELECT metrics_day(created_at) AS day, owner, source, segment, old_mask,
                       new_mask, count(*) AS n
                  FROM facts WHERE new_mask <> old_mask
                 GROUP BY 1, 2, 3, 4, 5, 6) g,
               LATERAL (VALUES (g.old_mask, -g.n), (g.new_mask, g.n)) AS m(mask, n)
UNION ALL

        SELECT (metrics_cohort_delta(metrics_day(created_at), owner, source, segment, 1,
                                     count(*))).*
          FROM moved_leads GROUP BY metrics_day(created_at), owner, source, segment) d
         GROUP BY day, owner, source, segment ORDER BY day, owner, source, segment
        ON CONFLICT (day, owner, source, segment) DO UPDATE SET
          created = m.created + excluded.created, won_now = m.won_now + excluded.won_now, reached_contacted = m.reached_contacted + excluded.reached_contacted, reached_qualified = m.reached_qualified + excluded.reached_qualified, reached_negotiating = m.reached_negotiating + excluded.reached_negotiating, went_on_new = m.went_on_new + excluded.went_on_new, went_on_contacted = m.went_on_contacted + excluded.went_on_contacted, went_on_qualified = m.went_on_qualified + excluded.went_on_qualified, went_on_negotiating = m.went_on_negotiating + excluded.went_on_negotiating, closed_won = m.closed_won + excluded.closed_won, closed_lost = m.closed_lost + excluded.closed_lost, closed_no_decision = m.closed_no_decision + excluded.closed_no_decision, closed_recycled = m.closed_recycled + excluded.closed_recycled, closed_disqualified = m.closed_disqualified + excluded.closed_disqualified, closed_dead = m.closed_dead + excluded.closed_dead, reopened = m.reopened + excluded.reopened, reopened_won = m.reopened_won + excluded.reopened_won
        RETURNING 1),
      durations AS (
        INSERT INTO metrics_durations AS m (measure, dimension, status, day, value, days, n)
        SELECT measure, dimension, status, day, value, days, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.durations) d
UNION ALL

        SELECT d.*
          FROM (SELECT metrics_day(at) AS day, 'stay' AS measure, from_status AS status, owner,
                       source, segment, metrics_days(entered, at) AS days, count(*) AS n
                  FROM facts WHERE from_status IN ('new', 'contacted', 'qualified', 'negotiating')
                 GROUP BY 1, 2, 3, 4, 5, 6, 7
                UNION ALL
                SELECT metrics_day(at), 'cycle', 'won', owner, source, segment,
                       metrics_days(created_at, at), count(*)
                  FROM facts WHERE to_status = 'won'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7) g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.owner, g.source,
                                              g.segment, g.days, g.n)) d) d
         GROUP BY measure, dimension, status, day, value, days ORDER BY measure, dimension, status, day, value, days
        ON CONFLICT (measure, dimension, status, day, value, days) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      losses AS (
        INSERT INTO metrics_losses AS m (overall, day, owner, source, segment, status, reason, from_status, competitor, n)
        SELECT overall, day, owner, source, segment, status, reason, from_status, competitor, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.losses) d
UNION ALL

        SELECT o.overall, metrics_day(at), CASE WHEN o.overall THEN NULL ELSE owner END,
               CASE WHEN o.overall THEN NULL ELSE source END,
               CASE WHEN o.overall THEN NULL ELSE segment END,
               to_status, reason, from_status, competitor, count(*)
          FROM facts, (VALUES (false), (true)) o(overall)
         WHERE to_status IN ('lost', 'no_decision')
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9) d
         GROUP BY overall, day, owner, source, segment, status, reason, from_status, competitor ORDER BY overall, day, owner, source, segment, status, reason, from_status, competitor
        ON CONFLICT (overall, day, owner, source, segment, status, reason, from_status, competitor) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1)
      SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads)
    $$
    """
"""0004's fold (a `LANGUAGE sql` function), which a downgrade puts back."""
PLPGSQL_FOLD = """
    CREATE OR REPLACE FUNCTION metrics_fold() RETURNS bigint LANGUAGE plpgsql
    SET jit = off AS $fold$
    DECLARE
      moved bigint;
    BEGIN
      WITH moved_rows AS (DELETE FROM metrics_pending RETURNING *),
      moved_changes AS (DELETE FROM metrics_pending_changes RETURNING change_id),
      moved_leads AS (DELETE FROM metrics_pending_leads RETURNING *),
      facts AS (SELECT * FROM metrics_change_facts(ARRAY(SELECT change_id FROM moved_changes))),
      
      pipeline AS (
        INSERT INTO metrics_pipeline AS m (status, owner, source, segment, revisit_month, n)
        SELECT status, owner, source, segment, revisit_month, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.pipeline) d
UNION ALL

        SELECT (metrics_standing_key(from_status, owner, source, segment, standing_before,
                                     -1)).* FROM facts
        UNION ALL
        SELECT (metrics_standing_key(to_status, owner, source, segment, revisit_at, 1)).*
          FROM facts
UNION ALL

        SELECT (metrics_standing_key(status, owner, source, segment, revisit_at,
                                     count(*)::integer)).*
          FROM moved_leads GROUP BY status, owner, source, segment, revisit_at) d
         GROUP BY status, owner, source, segment, revisit_month ORDER BY status, owner, source, segment, revisit_month
        ON CONFLICT (status, owner, source, segment, revisit_month) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      daily AS (
        INSERT INTO metrics_daily AS m (day, owner, source, segment, created, won_now, reached_contacted, reached_qualified, reached_negotiating, went_on_new, went_on_contacted, went_on_qualified, went_on_negotiating, closed_won, closed_lost, closed_no_decision, closed_recycled, closed_disqualified, closed_dead, reopened, reopened_won)
        SELECT day, owner, source, segment, sum(created), sum(won_now), sum(reached_contacted), sum(reached_qualified), sum(reached_negotiating), sum(went_on_new), sum(went_on_contacted), sum(went_on_qualified), sum(went_on_negotiating), sum(closed_won), sum(closed_lost), sum(closed_no_decision), sum(closed_recycled), sum(closed_disqualified), sum(closed_dead), sum(reopened), sum(reopened_won)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.daily) d
UNION ALL

        SELECT (metrics_closing_delta(metrics_day((prev_closing).at), (prev_closing).owner, (prev_closing).source,
                                      (prev_closing).segment, (prev_closing).to_status, -count(*))).*
          FROM facts WHERE to_status IN ('won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead') AND (prev_closing).id IS NOT NULL
         GROUP BY metrics_day((prev_closing).at), (prev_closing).owner, (prev_closing).source, (prev_closing).segment,
                  (prev_closing).to_status
        UNION ALL
        SELECT (metrics_closing_delta(metrics_day(at), owner, source, segment, to_status,
                                      count(*))).*
          FROM facts WHERE to_status IN ('won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead')
         GROUP BY metrics_day(at), owner, source, segment, to_status
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day((last_reopen).at), (last_reopen).owner, (last_reopen).source,
                                     (last_reopen).segment, 0, count(*))).*
          FROM facts WHERE to_status = 'won' AND (last_reopen).id IS NOT NULL
         GROUP BY metrics_day((last_reopen).at), (last_reopen).owner, (last_reopen).source, (last_reopen).segment
        UNION ALL
        SELECT (metrics_reopen_delta(metrics_day(at), owner, source, segment, count(*), 0)).*
          FROM facts WHERE reopened
         GROUP BY metrics_day(at), owner, source, segment
        UNION ALL
        SELECT (metrics_cohort_delta(g.day, g.owner, g.source, g.segment, m.mask, m.n)).*
          FROM (SELECT metrics_day(created_at) AS day, owner, source, segment, old_mask,
                       new_mask, count(*) AS n
                  FROM facts WHERE new_mask <> old_mask
                 GROUP BY 1, 2, 3, 4, 5, 6) g,
               LATERAL (VALUES (g.old_mask, -g.n), (g.new_mask, g.n)) AS m(mask, n)
UNION ALL

        SELECT (metrics_cohort_delta(metrics_day(created_at), owner, source, segment, 1,
                                     count(*))).*
          FROM moved_leads GROUP BY metrics_day(created_at), owner, source, segment) d
         GROUP BY day, owner, source, segment ORDER BY day, owner, source, segment
        ON CONFLICT (day, owner, source, segment) DO UPDATE SET
          created = m.created + excluded.created, won_now = m.won_now + excluded.won_now, reached_contacted = m.reached_contacted + excluded.reached_contacted, reached_qualified = m.reached_qualified + excluded.reached_qualified, reached_negotiating = m.reached_negotiating + excluded.reached_negotiating, went_on_new = m.went_on_new + excluded.went_on_new, went_on_contacted = m.went_on_contacted + excluded.went_on_contacted, went_on_qualified = m.went_on_qualified + excluded.went_on_qualified, went_on_negotiating = m.went_on_negotiating + excluded.went_on_negotiating, closed_won = m.closed_won + excluded.closed_won, closed_lost = m.closed_lost + excluded.closed_lost, closed_no_decision = m.closed_no_decision + excluded.closed_no_decision, closed_recycled = m.closed_recycled + excluded.closed_recycled, closed_disqualified = m.closed_disqualified + excluded.closed_disqualified, closed_dead = m.closed_dead + excluded.closed_dead, reopened = m.reopened + excluded.reopened, reopened_won = m.reopened_won + excluded.reopened_won
        RETURNING 1),
      durations AS (
        INSERT INTO metrics_durations AS m (measure, dimension, status, day, value, days, n)
        SELECT measure, dimension, status, day, value, days, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.durations) d
UNION ALL

        SELECT d.*
          FROM (SELECT metrics_day(at) AS day, 'stay' AS measure, from_status AS status, owner,
                       source, segment, metrics_days(entered, at) AS days, count(*) AS n
                  FROM facts WHERE from_status IN ('new', 'contacted', 'qualified', 'negotiating')
                 GROUP BY 1, 2, 3, 4, 5, 6, 7
                UNION ALL
                SELECT metrics_day(at), 'cycle', 'won', owner, source, segment,
                       metrics_days(created_at, at), count(*)
                  FROM facts WHERE to_status = 'won'
                 GROUP BY 1, 2, 3, 4, 5, 6, 7) g,
               unnest(metrics_duration_deltas(g.day, g.measure, g.status, g.owner, g.source,
                                              g.segment, g.days, g.n)) d) d
         GROUP BY measure, dimension, status, day, value, days ORDER BY measure, dimension, status, day, value, days
        ON CONFLICT (measure, dimension, status, day, value, days) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1),
      losses AS (
        INSERT INTO metrics_losses AS m (overall, day, owner, source, segment, status, reason, from_status, competitor, n)
        SELECT overall, day, owner, source, segment, status, reason, from_status, competitor, sum(n)
          FROM (SELECT d.* FROM moved_rows p, unnest(p.losses) d
UNION ALL

        SELECT o.overall, metrics_day(at), CASE WHEN o.overall THEN NULL ELSE owner END,
               CASE WHEN o.overall THEN NULL ELSE source END,
               CASE WHEN o.overall THEN NULL ELSE segment END,
               to_status, reason, from_status, competitor, count(*)
          FROM facts, (VALUES (false), (true)) o(overall)
         WHERE to_status IN ('lost', 'no_decision')
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9) d
         GROUP BY overall, day, owner, source, segment, status, reason, from_status, competitor ORDER BY overall, day, owner, source, segment, status, reason, from_status, competitor
        ON CONFLICT (overall, day, owner, source, segment, status, reason, from_status, competitor) DO UPDATE SET
          n = m.n + excluded.n
        RETURNING 1)
       SELECT (SELECT count(*) FROM moved_rows) + (SELECT count(*) FROM moved_changes)
             + (SELECT count(*) FROM moved_leads) INTO moved;
      RETURN moved;
    END
    $fold$
    """
"""The same statement in PL/pgSQL, its final count taken INTO a variable and returned."""
REASON_FUNCTION = """
    CREATE FUNCTION lead_status_change_reason_valid(reopened boolean, to_status text, reason text)
    RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $valid$
    BEGIN
      IF reopened THEN
        RETURN reason IN ('budget_approved', 'needs_changed', 'competitor_failed', 'timing_right', 'new_stakeholder', 'other');
      END IF;
      RETURN CASE to_status
        WHEN 'contacted' THEN reason IN ('outreach_reply', 'call_connected', 'meeting_booked', 'inbound_request')
    WHEN 'qualified' THEN reason IN ('budget_confirmed', 'need_confirmed', 'authority_confirmed', 'timeline_confirmed', 'scope_changed')
    WHEN 'negotiating' THEN reason IN ('proposal_sent', 'pricing_discussed', 'contract_review')
    WHEN 'won' THEN reason IN ('contract_signed', 'purchase_order', 'online_checkout')
    WHEN 'lost' THEN reason IN ('price', 'competitor', 'feature_gap', 'budget', 'timing', 'other')
    WHEN 'no_decision' THEN reason IN ('unresponsive', 'postponed', 'status_quo')
    WHEN 'recycled' THEN reason IN ('not_ready', 'timing', 'budget_next_cycle', 'nurture')
    WHEN 'disqualified' THEN reason IN ('not_a_fit', 'no_need', 'too_small', 'wrong_region', 'personal_or_student', 'duplicate')
    WHEN 'dead' THEN reason IN ('out_of_business', 'email_bounced', 'invalid_phone', 'returned_mail', 'unreachable')
        ELSE false
      END;
    END
    $valid$
    """
"""The reason rule of 0007, as a function compiled once per connection."""
REASON_CHECK_0007 = """(reopened AND reason IN ('budget_approved', 'needs_changed', 'competitor_failed', 'timing_right', 'new_stakeholder', 'other')) OR (NOT reopened AND (to_status, reason) IN (('contacted', 'outreach_reply'), ('contacted', 'call_connected'), ('contacted', 'meeting_booked'), ('contacted', 'inbound_request'), ('qualified', 'budget_confirmed'), ('qualified', 'need_confirmed'), ('qualified', 'authority_confirmed'), ('qualified', 'timeline_confirmed'), ('qualified', 'scope_changed'), ('negotiating', 'proposal_sent'), ('negotiating', 'pricing_discussed'), ('negotiating', 'contract_review'), ('won', 'contract_signed'), ('won', 'purchase_order'), ('won', 'online_checkout'), ('lost', 'price'), ('lost', 'competitor'), ('lost', 'feature_gap'), ('lost', 'budget'), ('lost', 'timing'), ('lost', 'other'), ('no_decision', 'unresponsive'), ('no_decision', 'postponed'), ('no_decision', 'status_quo'), ('recycled', 'not_ready'), ('recycled', 'timing'), ('recycled', 'budget_next_cycle'), ('recycled', 'nurture'), ('disqualified', 'not_a_fit'), ('disqualified', 'no_need'), ('disqualified', 'too_small'), ('disqualified', 'wrong_region'), ('disqualified', 'personal_or_student'), ('disqualified', 'duplicate'), ('dead', 'out_of_business'), ('dead', 'email_bounced'), ('dead', 'invalid_phone'), ('dead', 'returned_mail'), ('dead', 'unreachable')))"""
"""0007's check, every (target, reason) pair spelled out: what a downgrade puts back."""


def upgrade() -> None:
    op.execute("DROP FUNCTION metrics_fold()")
    op.execute(PLPGSQL_FOLD)
    op.execute(REASON_FUNCTION)
    # NOT VALID then VALIDATE: the swap holds the table's write lock only for the catalog change.
    op.execute(f"ALTER TABLE lead_status_changes DROP CONSTRAINT {CHECK}")
    op.execute(
        f"ALTER TABLE lead_status_changes ADD CONSTRAINT {CHECK}"
        " CHECK (lead_status_change_reason_valid(reopened, to_status, reason)) NOT VALID"
    )
    op.execute(f"ALTER TABLE lead_status_changes VALIDATE CONSTRAINT {CHECK}")


def downgrade() -> None:
    op.execute(f"ALTER TABLE lead_status_changes DROP CONSTRAINT {CHECK}")
    op.execute(
        f"ALTER TABLE lead_status_changes ADD CONSTRAINT {CHECK} CHECK ({REASON_CHECK_0007})"
    )
    op.execute("DROP FUNCTION lead_status_change_reason_valid(boolean, text, text)")
    op.execute("DROP FUNCTION metrics_fold()")
    op.execute(FOLD_0004)
