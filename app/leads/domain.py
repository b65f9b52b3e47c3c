"""A lead's status as a small immutable value, and the decisions that move it.

`Lead.transition()` and `Lead.reopen()` never change anything: they check the request against the
`Workflow` of the lead's pipeline (the version current when the decision is taken) and return the
`StatusChange` to record, or raise a `ServiceError`. Persisting the
change is the repository's work; `Lead.apply()` shows what the row looks like afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.workflow import (
    STALE_REASON,
    SYSTEM_ACTOR,
    ExtraField,
    Outcome,
    TargetRule,
    Workflow,
)
from app.platform.errors import InvalidChange, NotReopenable, TransitionNotAllowed, UnknownStatus

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

    from_status: str
    to_status: str
    reason: str
    at: datetime
    details: ChangeDetails = ChangeDetails()
    reopened: bool = False
    from_outcome: Outcome = Outcome.OPEN
    to_outcome: Outcome = Outcome.OPEN
    """The outcomes of both statuses as they were when decided: what the change counts for."""
    pipeline_version: int = 1
    """The version of the pipeline the change was decided under."""
    from_version: int = 1
    """The version the lead stood on before (where `from_status` was defined)."""

    @property
    def closes(self) -> bool:
        return self.to_outcome is not Outcome.OPEN


@dataclass(frozen=True, slots=True)
class Lead:
    """The status-bearing part of a lead; descriptive fields do not take part in the rules."""

    status: str = "new"
    version: int = 1
    reopen_count: int = 0
    closed_from: str | None = None
    """The open status the lead held when it last closed: where a reopening returns by default."""
    revisit_at: datetime | None = None
    closed_at: datetime | None = None
    status_reason: str | None = None
    pipeline: str = DEFAULT_PIPELINE
    pipeline_version: int = 1
    """The version of its pipeline the lead's latest status change was decided under."""

    def allowed_targets(self, workflow: Workflow) -> tuple[str, ...]:
        return workflow.allowed_targets(self.status)

    def transition(
        self,
        workflow: Workflow,
        to: str,
        reason: str,
        *,
        now: datetime,
        details: ChangeDetails = ChangeDetails(),
    ) -> StatusChange:
        self._check_pipeline(workflow)
        allowed = workflow.allowed_targets(self.status)
        if not workflow.has(to):
            raise UnknownStatus(workflow.pipeline, to, workflow.keys, field="to")
        if to not in allowed:
            reopenable = workflow.reopenable(self.status)
            raise TransitionNotAllowed(self.status, to, allowed, reopenable=reopenable)
        _check_reason(workflow.reasons[to], reason, details, now=now, target=to)
        return self._change(workflow, to, reason, now, details)

    def reopen(
        self,
        workflow: Workflow,
        reason: str,
        *,
        now: datetime,
        to: str | None = None,
        details: ChangeDetails = ChangeDetails(),
    ) -> StatusChange:
        self._check_pipeline(workflow)
        if not workflow.reopenable(self.status) or workflow.reopen is None:
            raise NotReopenable(self.status, workflow.reopenable_statuses)
        targets = workflow.open_reopen_targets
        target = to if to is not None else self.default_reopen_target(workflow)
        if target is not None and not workflow.has(target):
            raise UnknownStatus(workflow.pipeline, target, workflow.keys, field="to")
        if target is None or target not in targets:
            raise InvalidChange(
                f"A reopened lead goes to {', '.join(sorted(targets))}, not {target}.",
                field="to",
                allowed_targets=sorted(targets),
            )
        _check_reason(workflow.reopen, reason, details, now=now, target="reopen")
        return self._change(workflow, target, reason, now, details, reopened=True)

    def close_as_stale(
        self, workflow: Workflow, *, since: datetime, now: datetime
    ) -> StatusChange | None:
        """The closing the service makes of a lead left in an open status (since `since`) for
        its `auto_close_after_days`: to the status's no-decision target, reason `stale`, actor
        `system`, recorded and reopenable like any other. None when nothing is due: the status
        does not close automatically (or no longer does), or the lead has not sat there long
        enough."""
        self._check_pipeline(workflow)
        if not workflow.has(self.status):
            return None
        status = workflow.status(self.status)
        target = workflow.auto_close_target(self.status)
        days = status.auto_close_after_days
        if target is None or days is None or now - since < timedelta(days=days):
            return None
        note = f"Closed by the service: {days} days in {status.label} without a status change."
        details = ChangeDetails(note=note, actor=SYSTEM_ACTOR)
        return self._change(workflow, target, STALE_REASON, now, details)

    def default_reopen_target(self, workflow: Workflow) -> str | None:
        if self.closed_from in workflow.open_reopen_targets:
            return self.closed_from
        return workflow.reopen_fallback

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
            pipeline_version=change.pipeline_version,
        )

    def _check_pipeline(self, workflow: Workflow) -> None:
        if workflow.pipeline != self.pipeline:
            raise ValueError(f"lead of {self.pipeline!r} decided under {workflow.pipeline!r}")

    def _change(
        self,
        workflow: Workflow,
        to: str,
        reason: str,
        now: datetime,
        details: ChangeDetails,
        *,
        reopened: bool = False,
    ) -> StatusChange:
        # A key never changes its outcome across versions, so the current version knows the
        # outcome of the status the lead leaves (unless a new version removed it: a remap).
        from_outcome = workflow.outcome(self.status) if workflow.has(self.status) else Outcome.OPEN
        return StatusChange(
            from_status=self.status,
            to_status=to,
            reason=reason,
            at=now,
            details=details,
            reopened=reopened,
            from_outcome=from_outcome,
            to_outcome=workflow.outcome(to),
            pipeline_version=workflow.version,
            from_version=self.pipeline_version,
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


LeadRecord = Mapping[str, Any]
"""A full row of `leads`, as the API shows it."""


@dataclass(frozen=True, slots=True)
class LeadFilter:
    pipeline: str | None = None
    statuses: Sequence[str] = ()
    owner: str | None = None
    source: str | None = None
    segment: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    revisit_due_at: datetime | None = None
    """When set: only closed leads whose revisit_at has come by this time (the nurture queue)."""
    stale_at: datetime | None = None
    """When set: only open leads that have sat in their status, by this time, longer than its
    `stale_after_days` in the current version of their pipeline."""
