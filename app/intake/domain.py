"""What a lead arriving from a marketing tool does to the leads the service already has.

Marketing tools resend the same person again and again (a second form fill, a list re-import, a
retry): intake must not turn each into a new lead. The rules below decide, from the outcome of the
status of the lead that person already has (if any), whether to create, touch, report or reopen; the
`app.intake.service` use case applies the decision in one transaction.
"""

from __future__ import annotations

from enum import StrEnum

from app.pipelines.workflow import REOPENABLE_OUTCOMES, Outcome, Workflow

REOPEN_REASON = "needs_changed"
"""The reason recorded when intake reopens a returning prospect, where the pipeline has it."""


def reopen_reason(workflow: Workflow) -> str | None:
    """`needs_changed` if the pipeline's reopening has it, else its first code that needs no
    extra field; None when reopening is impossible there (the prospect is only reported)."""
    rule = workflow.reopen
    if rule is None:
        return None
    if rule.reason(REOPEN_REASON) is not None:
        return REOPEN_REASON
    return next((r.code for r in rule.reasons if not r.requires), None)


class SourceKind(StrEnum):
    """How a marketing tool signs and shapes what it sends (see `app.intake`)."""

    STANDARD = "standard"
    """Standard Webhooks v1: `webhook-id`, `webhook-timestamp`, `webhook-signature`."""
    HUBSPOT = "hubspot"
    """`X-HubSpot-Signature-v3` over method, URI, body and timestamp (milliseconds)."""
    MARKETO = "marketo"
    """A webhook template's JSON body with a shared secret in the `X-Webhook-Secret` header."""
    MAILCHIMP = "mailchimp"
    """Form-encoded `data[merges][EMAIL]` fields with the secret in the query string."""

    @property
    def signs_with_hmac(self) -> bool:
        """Whether checking a delivery needs the secret itself rather than only its hash."""
        return self in (SourceKind.STANDARD, SourceKind.HUBSPOT)


class IntakeOutcome(StrEnum):
    CREATED = "created"
    """No lead matched: a new one was created."""
    TOUCHED = "touched"
    """An open lead matched: the new touch was recorded on it, nothing else changed."""
    RETURNING = "returning"
    """A recycled, lost or no-decision lead matched: a returning prospect, touch recorded."""
    REOPENED = "reopened"
    """As returning, and the source is set to reopen such leads: reopened with `needs_changed`."""
    LINKED = "linked"
    """A won, disqualified or dead lead matched: a new lead was created, linked to it."""
    AWAITING_EMAIL = "awaiting_email"
    """A thin event (HubSpot `contact.creation`) that names a contact but not its email yet."""
    IGNORED = "ignored"
    """An event that creates no lead (an unsubscribe, a property change): recorded only."""


def normalize_email(email: str) -> str:
    """The form two addresses are compared in: trimmed and lower-cased, nothing more.

    `+tags` and dots in the local part are kept: `ann+expo@example.com` and `a.nn@example.com`
    are different mailboxes on most mail servers (Gmail is the exception, not the rule), and
    merging two real people's leads is worse than keeping a duplicate a rep can merge by hand.
    """
    return email.strip().lower()


def decide(matched: Outcome | None, *, reopen_returning: bool) -> IntakeOutcome:
    """What to do with an arriving person, given the outcome of the lead they already have."""
    if matched is None:
        return IntakeOutcome.CREATED
    if matched is Outcome.OPEN:
        return IntakeOutcome.TOUCHED
    if matched in REOPENABLE_OUTCOMES:
        return IntakeOutcome.REOPENED if reopen_returning else IntakeOutcome.RETURNING
    # Won, disqualified and dead leads stay closed: a new deal gets a new lead.
    return IntakeOutcome.LINKED
