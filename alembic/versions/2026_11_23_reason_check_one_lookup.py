"""The reason check looks its (target, reason) pair up in one list instead of a CASE of lists.

PL/pgSQL keeps a function's plan for the connection, but rebuilds the evaluation steps of its
expressions in every transaction, and every transition is a transaction of its own. 0008's body,
a CASE over the targets with a list of codes each, was rebuilt step by step on each history
insert: about 25 us per transition (perf, under a transition load, beneath `ExecCheck`). The
same rule as one comparison against one array constant builds a handful of steps.

The codes stay those 0008 froze (from 0007).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 09:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


REOPEN = "reopen"
"""Stands in for the target of a reopening (no status has this name)."""
PAIRS = """{contacted:outreach_reply,contacted:call_connected,contacted:meeting_booked,contacted:inbound_request,qualified:budget_confirmed,qualified:need_confirmed,qualified:authority_confirmed,qualified:timeline_confirmed,qualified:scope_changed,negotiating:proposal_sent,negotiating:pricing_discussed,negotiating:contract_review,won:contract_signed,won:purchase_order,won:online_checkout,lost:price,lost:competitor,lost:feature_gap,lost:budget,lost:timing,lost:other,no_decision:unresponsive,no_decision:postponed,no_decision:status_quo,recycled:not_ready,recycled:timing,recycled:budget_next_cycle,recycled:nurture,disqualified:not_a_fit,disqualified:no_need,disqualified:too_small,disqualified:wrong_region,disqualified:personal_or_student,disqualified:duplicate,dead:out_of_business,dead:email_bounced,dead:invalid_phone,dead:returned_mail,dead:unreachable,reopen:budget_approved,reopen:needs_changed,reopen:competitor_failed,reopen:timing_right,reopen:new_stakeholder,reopen:other}"""
"""Every (target, reason) pair 0007 froze, as one array literal (a snapshot: this revision reads
alone)."""
REASON_FUNCTION_0008 = """
    CREATE OR REPLACE FUNCTION lead_status_change_reason_valid(reopened boolean, to_status text, reason text)
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
"""0008's function, which a downgrade puts back."""


def upgrade() -> None:
    op.execute(f"""
    CREATE OR REPLACE FUNCTION lead_status_change_reason_valid(
      reopened boolean, to_status text, reason text
    ) RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $valid$
    BEGIN
      RETURN (CASE WHEN reopened THEN '{REOPEN}' ELSE to_status END) || ':' || reason
             = ANY ('{PAIRS}'::text[]);
    END
    $valid$
    """)


def downgrade() -> None:
    op.execute(REASON_FUNCTION_0008)
