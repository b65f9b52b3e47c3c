"""One small hierarchy of the errors a lead's rules can raise.

Each error carries the facts a client needs to correct its request (the allowed targets, the
accepted reason codes, the existing lead), so the API can put them in the problem body unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.domain.status import REOPENABLE, LeadStatus


class LeadError(Exception):
    """Base of every refusal the lead domain makes."""

    def __init__(self, detail: str, **facts: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.facts: dict[str, Any] = facts


class LeadNotFound(LeadError):
    """No lead has this id."""

    def __init__(self, lead_id: int) -> None:
        super().__init__(f"No lead has id {lead_id}.", lead_id=lead_id)


class TransitionNotAllowed(LeadError):
    """The workflow has no move from the current status to the requested one."""

    def __init__(self, current: LeadStatus, to: LeadStatus, allowed: Iterable[LeadStatus]) -> None:
        targets = sorted(allowed)
        if current == to:
            why = f"The lead is already {current.value}; a same-status move is not a transition."
        elif not targets:
            why = f"A {current.value} lead cannot move to {to.value}."
        else:
            why = (
                f"A {current.value} lead cannot move to {to.value}; allowed: {', '.join(targets)}."
            )
        if current in REOPENABLE:
            why += " A closed deal comes back through POST /v1/leads/{id}/reopen."
        super().__init__(why, current_status=current, requested=to, allowed_targets=targets)


class NotReopenable(LeadError):
    """Only lost, no-decision and recycled leads can be reopened."""

    def __init__(self, current: LeadStatus, reopenable: Iterable[LeadStatus]) -> None:
        names = sorted(reopenable)
        super().__init__(
            f"A {current.value} lead cannot be reopened; only {', '.join(names)} leads can.",
            current_status=current,
            reopenable_statuses=names,
        )


class InvalidChange(LeadError):
    """The change names a reason or an extra field that its target does not accept."""

    def __init__(self, detail: str, *, field: str, **facts: object) -> None:
        super().__init__(detail, field=field, **facts)


class StaleVersion(LeadError):
    """The client's If-Match names a version that is no longer current."""

    def __init__(self, lead_id: int, expected: int, current: int) -> None:
        super().__init__(
            f"Lead {lead_id} is at version {current}, not {expected}; read it again and retry.",
            lead_id=lead_id,
            expected_version=expected,
            current_version=current,
        )


class ConcurrentChange(LeadError):
    """Other changes kept committing first, however often the request was re-decided."""

    def __init__(self, subject: str, **facts: object) -> None:
        super().__init__(
            f"{subject} changed while this request was applied; read it again and retry.",
            **facts,
        )


class DuplicateOpenLead(LeadError):
    """An open lead with this email exists already; closed ones do not block a new lead."""

    def __init__(self, email: str, existing_id: int) -> None:
        super().__init__(
            f"An open lead with email {email} exists already (id {existing_id}).",
            existing_lead_id=existing_id,
        )


class InvalidWindow(LeadError):
    """A metrics window that ends before it starts, spans more than the allowed years, or lies
    outside the years metrics cover."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="from")
