"""The status history is append-only, and each row's reason belongs to its target.

The history is what metrics, audits and commissions are computed from: a trigger refuses UPDATE
and DELETE of its rows (whatever client runs them), and a check constraint keeps each reason one
of its target status's codes (a reopening's, one of reopen's), so neither a bug nor a manual SQL
session can rewrite or corrupt it. The workflow's codes are frozen here, as 0001 froze the
statuses: a later change of the codes comes with its own migration.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The workflow's codes as of this revision, frozen (app.domain.status holds the live ones).
REOPEN_REASONS = (
    "budget_approved",
    "needs_changed",
    "competitor_failed",
    "timing_right",
    "new_stakeholder",
    "other",
)
REASONS_BY_TARGET = {
    "contacted": ("outreach_reply", "call_connected", "meeting_booked", "inbound_request"),
    "qualified": (
        "budget_confirmed",
        "need_confirmed",
        "authority_confirmed",
        "timeline_confirmed",
        "scope_changed",
    ),
    "negotiating": ("proposal_sent", "pricing_discussed", "contract_review"),
    "won": ("contract_signed", "purchase_order", "online_checkout"),
    "lost": ("price", "competitor", "feature_gap", "budget", "timing", "other"),
    "no_decision": ("unresponsive", "postponed", "status_quo"),
    "recycled": ("not_ready", "timing", "budget_next_cycle", "nurture"),
    "disqualified": (
        "not_a_fit",
        "no_need",
        "too_small",
        "wrong_region",
        "personal_or_student",
        "duplicate",
    ),
    "dead": ("out_of_business", "email_bounced", "invalid_phone", "returned_mail", "unreachable"),
}


def _reason_check() -> str:
    pairs = ", ".join(
        f"('{target}', '{code}')" for target, codes in REASONS_BY_TARGET.items() for code in codes
    )
    reopen = ", ".join(f"'{code}'" for code in REOPEN_REASONS)
    return f"(reopened AND reason IN ({reopen})) OR (NOT reopened AND (to_status, reason) IN ({pairs}))"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE lead_status_changes ADD CONSTRAINT ck_lead_status_changes_reason_of_target"
        f" CHECK ({_reason_check()})"
    )
    op.execute(
        """
        CREATE FUNCTION lead_status_changes_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'the status history is append-only: % of a row is refused', TG_OP
            USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER lead_status_changes_append_only BEFORE UPDATE OR DELETE"
        " ON lead_status_changes FOR EACH ROW EXECUTE FUNCTION lead_status_changes_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER lead_status_changes_append_only ON lead_status_changes")
    op.execute("DROP FUNCTION lead_status_changes_append_only()")
    op.execute(
        "ALTER TABLE lead_status_changes DROP CONSTRAINT ck_lead_status_changes_reason_of_target"
    )
