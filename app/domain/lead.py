"""A lead's status as a small immutable value, and the decisions that move it.

`Lead.transition()` and `Lead.reopen()` never change anything: they check the request against the
tables in `status` and return the `StatusChange` to record, or raise a `LeadError`. Persisting the
change is the repository's work; `Lead.apply()` shows what the row looks like afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from app.domain.errors import InvalidChange, NotReopenable, TransitionNotAllowed
from app.domain.status import (
    REASONS,
    REOPEN_FALLBACK,
    REOPEN_RULE,
    REOPEN_TARGETS,
    REOPENABLE,
    TRANSITIONS,
    ExtraField,
    LeadStatus,
    TargetRule,
    is_open,
)

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""The instants the service records and counts: a revisit date and a metrics window lie within
them. Nothing happened outside them, and near the first and last dates Python has, the database
driver sends those dates as -infinity and infinity and a day's arithmetic overflows."""


@dataclass(frozen=True, slots=True)
class ChangeDetails:
    """What a caller may send with a status change, beyond the target and the reason."""

    note: str | None = None
    competitor: str | None = None
    revisit_at: datetime | None = None
    future_opportunity: bool | None = None
    actor: str | None = None

    def given(self) -> set[ExtraField]:
        values = {
            ExtraField.NOTE: self.note,
            ExtraField.COMPETITOR: self.competitor,
            ExtraField.REVISIT_AT: self.revisit_at,
            ExtraField.FUTURE_OPPORTUNITY: self.future_opportunity,
        }
        return {f for f, v in values.items() if v is not None and v != ""}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One row of a lead's history: the decision, ready to be recorded."""

    from_status: LeadStatus
    to_status: LeadStatus
    reason: str
    at: datetime
    details: ChangeDetails = ChangeDetails()
    reopened: bool = False

    @property
    def closes(self) -> bool:
        return not is_open(self.to_status)


@dataclass(frozen=True, slots=True)
class Lead:
    """The status-bearing part of a lead; descriptive fields do not take part in the rules."""

    status: LeadStatus = LeadStatus.NEW
    version: int = 1
    reopen_count: int = 0
    closed_from: LeadStatus | None = None
    """The open status the lead held when it last closed: where a reopening returns by default."""
    revisit_at: datetime | None = None
    closed_at: datetime | None = None
    status_reason: str | None = None

    def allowed_targets(self) -> frozenset[LeadStatus]:
        return TRANSITIONS[self.status]

    def transition(
        self,
        to: LeadStatus,
        reason: str,
        *,
        now: datetime,
        details: ChangeDetails = ChangeDetails(),
    ) -> StatusChange:
        if to not in TRANSITIONS[self.status]:
            raise TransitionNotAllowed(self.status, to, TRANSITIONS[self.status])
        _check_reason(REASONS[to], reason, details, now=now, target=to.value)
        return StatusChange(self.status, to, reason, now, details)

    def reopen(
        self,
        reason: str,
        *,
        now: datetime,
        to: LeadStatus | None = None,
        details: ChangeDetails = ChangeDetails(),
    ) -> StatusChange:
        if self.status not in REOPENABLE:
            raise NotReopenable(self.status, REOPENABLE)
        target = to if to is not None else self.default_reopen_target()
        if target not in REOPEN_TARGETS:
            raise InvalidChange(
                f"A reopened lead goes to {', '.join(sorted(REOPEN_TARGETS))}, not {target}.",
                field="to",
                allowed_targets=sorted(REOPEN_TARGETS),
            )
        _check_reason(REOPEN_RULE, reason, details, now=now, target="reopen")
        return StatusChange(self.status, target, reason, now, details, reopened=True)

    def default_reopen_target(self) -> LeadStatus:
        if self.closed_from in REOPEN_TARGETS:
            return self.closed_from
        return REOPEN_FALLBACK

    def apply(self, change: StatusChange) -> Lead:
        """The lead after `change`; the repository writes the same fields in one statement."""
        return replace(
            self,
            status=change.to_status,
            version=self.version + 1,
            reopen_count=self.reopen_count + change.reopened,
            closed_from=change.from_status if change.closes else None,
            revisit_at=change.details.revisit_at,
            closed_at=change.at if change.closes else None,
            status_reason=change.reason,
        )


def _check_reason(
    rule: TargetRule, reason: str, details: ChangeDetails, *, now: datetime, target: str
) -> None:
    found = rule.reason(reason)
    if found is None:
        codes = [r.code for r in rule.reasons]
        raise InvalidChange(
            f"'{reason}' is not a reason for {target}; use one of {', '.join(codes)}.",
            field="reason",
            allowed_reasons=codes,
        )
    given = details.given()
    missing = sorted(found.requires - given)
    if missing:
        raise InvalidChange(
            f"Reason '{reason}' for {target} requires '{missing[0]}'.",
            field=missing[0],
            reason=reason,
        )
    unexpected = sorted(given - rule.accepted)
    if unexpected:
        raise InvalidChange(
            f"'{unexpected[0]}' does not apply to a change to {target}.",
            field=unexpected[0],
            reason=reason,
        )
    if details.revisit_at is not None:
        if details.revisit_at.tzinfo is None:
            raise InvalidChange("'revisit_at' needs a time zone offset.", field="revisit_at")
        if details.revisit_at <= now:
            raise InvalidChange("'revisit_at' must be in the future.", field="revisit_at")
        if details.revisit_at >= LATEST:
            raise InvalidChange(f"'revisit_at' must be before {LATEST.date()}.", field="revisit_at")
