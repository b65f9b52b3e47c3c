"""Automatic closing: a lead left in an open status for its `auto_close_after_days` is closed
to the status's no-decision target, reason `stale`, by the service, and can come back."""

from __future__ import annotations

import copy
from datetime import timedelta

from app.leads.domain import Lead
from app.pipelines.default import DEFAULT_DOCUMENT
from app.pipelines.definition import build_workflow
from app.pipelines.workflow import Outcome, Workflow
from tests.domain_support import DEFAULT, NOW


def _closing_after(days: int, status: str = "negotiating", version: int = 2) -> Workflow:
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    for entry in doc["statuses"]:
        if entry["key"] == status:
            entry["auto_close_after_days"] = days
    return build_workflow(doc, pipeline="default", version=version)


def test_a_lead_past_its_statuss_days_is_closed_as_no_decision_by_the_system() -> None:
    workflow = _closing_after(60)
    lead = Lead(status="negotiating", version=7, pipeline_version=1)
    change = lead.close_as_stale(workflow, since=NOW - timedelta(days=60), now=NOW)
    assert change is not None
    assert (change.from_status, change.to_status, change.reason) == (
        "negotiating",
        "no_decision",
        "stale",
    )
    assert (change.from_outcome, change.to_outcome) == (Outcome.OPEN, Outcome.NO_DECISION)
    assert change.details.actor == "system"
    assert change.details.note is not None and "60 days in Negotiating" in change.details.note
    assert (change.at, change.pipeline_version, change.from_version) == (NOW, 2, 1)
    closed = lead.apply(change)
    assert (closed.status, closed.closed_from, closed.closed_at) == (
        "no_decision",
        "negotiating",
        NOW,
    )
    # Closed like any no-decision: the reopening brings it back where it stood.
    reopened = closed.reopen(workflow, "budget_approved", now=NOW + timedelta(days=1))
    assert reopened.to_status == "negotiating"


def test_nothing_is_due_before_the_days_have_passed() -> None:
    lead = Lead(status="negotiating")
    since = NOW - timedelta(days=60) + timedelta(seconds=1)
    assert lead.close_as_stale(_closing_after(60), since=since, now=NOW) is None


def test_statuses_without_the_property_and_closed_leads_are_never_closed() -> None:
    long_ago = NOW - timedelta(days=3000)
    workflow = _closing_after(30)
    for status in ("new", "contacted", "qualified", "lost", "won", "no_decision"):
        assert Lead(status=status).close_as_stale(workflow, since=long_ago, now=NOW) is None
    assert Lead(status="negotiating").close_as_stale(DEFAULT, since=long_ago, now=NOW) is None
