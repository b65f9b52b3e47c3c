"""The one hierarchy of every refusal the service makes, whichever layer makes it.

Each error carries the facts a client needs to correct its request (the allowed targets, the
accepted reason codes, the existing lead), so the API can put them in the problem body unchanged.
`app.platform.http.problem_types.PROBLEMS` maps each class to its problem type, in one table; the
few that only the `leadstatus` command raises are listed there too (`COMMAND_ONLY`). Plain values,
no HTTP: a rule, a repository or a route raises the same class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ServiceError(Exception):
    """Base of every refusal: a detail safe to show, the facts that go with it, and any header
    the answer must carry for this occurrence (a rate limit's `Retry-After`)."""

    def __init__(
        self, detail: str, *, extra_headers: Mapping[str, str] | None = None, **facts: object
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.facts: dict[str, Any] = facts
        self.extra_headers = dict(extra_headers or {})


class LeadNotFound(ServiceError):
    """No lead has this id."""

    def __init__(self, lead_id: int) -> None:
        super().__init__(f"No lead has id {lead_id}.", lead_id=lead_id)


class TransitionNotAllowed(ServiceError):
    """The workflow has no move from the current status to the requested one."""

    def __init__(
        self, current: str, to: str, allowed: Iterable[str], *, reopenable: bool = False
    ) -> None:
        targets = sorted(allowed)
        if current == to:
            why = f"The lead is already {current}; a same-status move is not a transition."
        elif not targets:
            why = f"A {current} lead cannot move to {to}."
        else:
            why = f"A {current} lead cannot move to {to}; allowed: {', '.join(targets)}."
        if reopenable:
            why += " A closed deal comes back through POST /v1/leads/{id}/reopen."
        super().__init__(why, current_status=current, requested=to, allowed_targets=targets)


class NotReopenable(ServiceError):
    """Only leads in a lost, no-decision or recycled status can be reopened."""

    def __init__(self, current: str, reopenable: Iterable[str]) -> None:
        names = sorted(reopenable)
        super().__init__(
            f"A {current} lead cannot be reopened; only {', '.join(names)} leads can.",
            current_status=current,
            reopenable_statuses=names,
        )


class InvalidChange(ServiceError):
    """The change names a reason or an extra field that its target does not accept."""

    def __init__(self, detail: str, *, field: str, **facts: Any) -> None:
        super().__init__(detail, field=field, **facts)


class UnknownStatus(ServiceError):
    """A status key the pipeline does not have (in the version decided under)."""

    def __init__(self, pipeline: str, key: str, known: Iterable[str], *, field: str) -> None:
        keys = list(known)
        super().__init__(
            f"'{key}' is not a status of pipeline {pipeline}; its statuses: {', '.join(keys)}.",
            field=field,
            pipeline=pipeline,
            statuses=keys,
        )


class StaleVersion(ServiceError):
    """The client's If-Match names a version that is no longer current."""

    def __init__(self, lead_id: int, expected: int, current: int) -> None:
        super().__init__(
            f"Lead {lead_id} is at version {current}, not {expected}; read it again and retry.",
            lead_id=lead_id,
            expected_version=expected,
            current_version=current,
        )


class ConcurrentChange(ServiceError):
    """Other changes kept committing first, however often the request was re-decided."""

    def __init__(self, subject: str, **facts: Any) -> None:
        super().__init__(
            f"{subject} changed while this request was applied; read it again and retry.",
            **facts,
        )


class DuplicateOpenLead(ServiceError):
    """An open lead with this email exists already; closed ones do not block a new lead."""

    def __init__(self, email: str, existing_id: int) -> None:
        super().__init__(
            f"An open lead with email {email} exists already (id {existing_id}).",
            existing_lead_id=existing_id,
        )


class InvalidWindow(ServiceError):
    """A metrics window that ends before it starts, spans more than the allowed years, or lies
    outside the years metrics cover."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="from")


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong with a pipeline definition, at a JSON pointer into the document."""

    pointer: str
    message: str


class InvalidPipeline(ServiceError):
    """A pipeline definition the workflow cannot be built from: every violation, listed."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        count = len(self.violations)
        first = self.violations[0].message if self.violations else "invalid"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(
            f"The pipeline definition is invalid: {first}{more}",
            violations=[{"pointer": v.pointer, "message": v.message} for v in self.violations],
        )


class StatusesInUse(ServiceError):
    """A new version removes statuses that still hold leads, without a remap for them."""

    def __init__(self, leads_per_status: Mapping[str, int]) -> None:
        parts = ", ".join(f"{k} ({n} leads)" for k, n in sorted(leads_per_status.items()))
        super().__init__(
            f'Removed statuses still hold leads: {parts}. Remap them ({{"remap": '
            '{"old": "new"}}) or keep them with "archived": true.',
            leads_per_status=dict(leads_per_status),
        )


class PipelineNotFound(ServiceError):
    """No pipeline (or no such version of it) has this name."""

    def __init__(self, name: str, version: int | None = None) -> None:
        what = f"Pipeline '{name}' has no version {version}." if version else None
        super().__init__(what or f"No pipeline is named '{name}'.", pipeline=name)


class StalePipelineVersion(ServiceError):
    """The If-Match of a pipeline edit names a version that is no longer current."""

    def __init__(self, name: str, expected: int, current: int) -> None:
        super().__init__(
            f"Pipeline '{name}' is at version {current}, not {expected}; read it again.",
            pipeline=name,
            expected_version=expected,
            current_version=current,
        )


# Refusals of a request's form, made before any rule is asked.


class BadIfMatch(ServiceError):
    """An If-Match header that names no version."""


class BadCursor(ServiceError):
    """A page cursor the service did not hand out."""


class EventNotKept(ServiceError):
    """An `after` that names no event the log keeps: malformed, never handed out, or older than
    the log's retention."""

    def __init__(self, event_id: str, retention_days: int) -> None:
        super().__init__(
            f"No event {event_id} is kept (events are kept {retention_days} days). Read the log "
            "from its start (omit `after`) and skip the ids you have already processed.",
            after=event_id,
        )


class WebhookNotFound(ServiceError):
    """No webhook endpoint has this id."""

    def __init__(self, endpoint_id: int) -> None:
        super().__init__(f"No webhook endpoint has id {endpoint_id}.", endpoint_id=endpoint_id)


class InvalidWebhookTarget(ServiceError):
    """A webhook URL the service will not send to, and why."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"Webhooks cannot be sent to {url}: {why}.", field="url", why=why)


class PayloadTooLarge(ServiceError):
    """A body over the route's limit."""


class PayloadRefused(ServiceError):
    """A body that cannot be read as the payload the route takes; `status` says how."""

    status = 422

    @property
    def field(self) -> str | None:
        field: str | None = self.facts.get("field")
        return field


class MalformedBody(PayloadRefused):
    """Not JSON (or not the form encoding) at all."""

    status = 400


class UnsupportedMediaType(PayloadRefused):
    """A content type the route (or the intake source's tool) does not send."""

    status = 415


class InvalidPayload(PayloadRefused):
    """Readable, but not the payload: a missing email, an event without its id."""


# Access.


class Unauthenticated(ServiceError):
    """No API key, or one that is unknown, revoked or expired."""


class MissingScope(ServiceError):
    """A valid key without the scope the route requires."""


class RateLimited(ServiceError):
    """The key's requests came faster than its rate allows."""


class TooManyFailures(ServiceError):
    """The client's address failed to authenticate (or to sign a delivery) too often lately."""


class KeyNameTaken(ServiceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"An API key named {name!r} exists already.", name=name)


class KeyNotFound(ServiceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No active API key is named {name!r}.", name=name)


# Idempotency-Key.


class BadIdempotencyKey(ServiceError):
    """A malformed Idempotency-Key header."""


class IdempotencyInFlight(ServiceError):
    """The first request with this key is still running."""


class IdempotencyMismatch(ServiceError):
    """The key was used before with another request."""


# Intake.


class IntakeSourceNotFound(ServiceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No intake source is named {name!r}.", source=name)
        self.name = name


class SignatureRefused(ServiceError):
    """The delivery is not proven to come from the source; the detail is safe to show (it
    names what was wrong, never a secret or a signature)."""

    @property
    def reason(self) -> str:
        return self.detail


class IntakeSourceExists(ServiceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"An intake source named {name!r} exists already.", source=name)


class BadSecret(ServiceError):
    """A given secret the source's kind cannot sign with."""


class SecretsUnreadable(ServiceError):
    """A sealed secret does not open with this key (a different LEADSTATUS_SECRET_KEY)."""


# The service itself.


class SchemaNotCurrent(ServiceError):
    """The database is not migrated to the revision this code needs."""


class DatabaseUnavailable(ServiceError):
    """The service has no connection to its database yet: it started while the database was
    down and is still trying to reach it."""
