"""Each tool's payload shapes, read into the leads they announce."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
import pytest

from app.intake.domain import IntakeOutcome, SourceKind, decide, normalize_email, reopen_reason
from app.intake.payloads import MAX_ID_LENGTH, body_hash, read
from app.pipelines.definition import build_workflow
from app.pipelines.workflow import Outcome
from app.platform.errors import PayloadRefused
from tests.domain_support import DEFAULT, ENTERPRISE, copy_document

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def test_standard_envelope_and_bare_lead_both_read() -> None:
    body = orjson.dumps({"type": "lead.created", "data": {"email": "a@x.example", "company": "X"}})
    (arrival,) = read(SourceKind.STANDARD, body, content_type=JSON, field_map={}, message_id="m1")
    assert arrival.event_id == "m1"
    assert arrival.fields == {"email": "a@x.example", "company": "X"}
    bare = orjson.dumps({"email": "b@x.example", "external_id": "crm-7"})
    (arrival,) = read(SourceKind.STANDARD, bare, content_type=JSON, field_map={}, message_id="m2")
    assert (arrival.fields, arrival.external_id) == ({"email": "b@x.example"}, "crm-7")


def test_hubspot_workflow_contact_with_properties_and_identity_profiles() -> None:
    contact = {
        "vid": 3851,
        "properties": {
            "firstname": {"value": "Dana"},
            "company": {"value": "Northwind"},
            "jobtitle": {"value": ""},
        },
        "identity-profiles": [
            {
                "identities": [
                    {"type": "LEAD_GUID", "value": "x"},
                    {"type": "EMAIL", "value": "d@n.example"},
                ]
            }
        ],
    }
    body = orjson.dumps(contact)
    (arrival,) = read(SourceKind.HUBSPOT, body, content_type=JSON, field_map={})
    assert arrival.fields == {"email": "d@n.example", "first_name": "Dana", "company": "Northwind"}
    assert arrival.external_id == "3851"
    assert arrival.event_id == body_hash(body)


def test_hubspot_batched_events_are_thin_each_with_its_own_id() -> None:
    events = [
        {"eventId": 11, "subscriptionType": "contact.creation", "objectId": 3851},
        {"eventId": 12, "subscriptionType": "contact.propertyChange", "objectId": 3851},
    ]
    arrivals = read(SourceKind.HUBSPOT, orjson.dumps(events), content_type=JSON, field_map={})
    assert [(a.event_id, a.outcome, a.external_id) for a in arrivals] == [
        ("hubspot-event:11", IntakeOutcome.AWAITING_EMAIL, "3851"),
        ("hubspot-event:12", IntakeOutcome.IGNORED, "3851"),
    ]
    assert orjson.loads(arrivals[0].body) == events[0]


def test_marketo_template_empty_tokens_count_as_absent() -> None:
    body = orjson.dumps({"email": " Ann@Y.example ", "firstName": "", "company": "Y", "id": 99})
    (arrival,) = read(SourceKind.MARKETO, body, content_type=JSON, field_map={})
    assert arrival.fields == {"email": "Ann@Y.example", "company": "Y"}
    assert arrival.external_id == "99"


def test_mailchimp_form_subscribe_and_ignored_types() -> None:
    form = urlencode(
        {
            "type": "subscribe",
            "data[id]": "8a25ff1d98",
            "data[merges][EMAIL]": "m@z.example",
            "data[merges][FNAME]": "Mo",
        }
    ).encode()
    (arrival,) = read(SourceKind.MAILCHIMP, form, content_type=FORM, field_map={})
    assert arrival.fields == {"email": "m@z.example", "first_name": "Mo"}
    assert arrival.external_id == "8a25ff1d98"
    gone = urlencode({"type": "unsubscribe", "data[email]": "m@z.example"}).encode()
    (arrival,) = read(SourceKind.MAILCHIMP, gone, content_type=FORM, field_map={})
    assert arrival.outcome is IntakeOutcome.IGNORED


def test_a_sources_field_map_overrides_the_kinds_default() -> None:
    body = orjson.dumps({"Email Address": "c@w.example", "Org": "W"})
    mapping = {"email": "Email Address", "company": "Org"}
    (arrival,) = read(SourceKind.MARKETO, body, content_type=JSON, field_map=mapping)
    assert arrival.fields == {"email": "c@w.example", "company": "W"}


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "status", "field"),
    [
        (SourceKind.MARKETO, b"{}", "text/plain", 415, None),
        (SourceKind.MAILCHIMP, b"type=subscribe", JSON, 415, None),
        (SourceKind.MARKETO, b"{not json", JSON, 400, None),
        (SourceKind.MARKETO, b"[1, 2]", JSON, 422, "body"),
        (SourceKind.MARKETO, b'{"firstName": "No Email"}', JSON, 422, "email"),
        (SourceKind.HUBSPOT, b'[{"objectId": 1}]', JSON, 422, "0.eventId"),
    ],
)
def test_unreadable_payloads_are_refused_with_their_status(
    kind: SourceKind, body: bytes, content_type: str, status: int, field: str | None
) -> None:
    with pytest.raises(PayloadRefused) as refused:
        read(kind, body, content_type=content_type, field_map={})
    assert (refused.value.status, refused.value.field) == (status, field)


def test_json_with_a_charset_parameter_is_json() -> None:
    body = orjson.dumps({"email": "a@x.example"})
    (arrival,) = read(
        SourceKind.MARKETO, body, content_type="application/json; charset=utf-8", field_map={}
    )
    assert arrival.fields["email"] == "a@x.example"


@pytest.mark.parametrize(
    ("status", "reopen", "outcome"),
    [
        (None, False, IntakeOutcome.CREATED),
        ("new", False, IntakeOutcome.TOUCHED),
        ("negotiating", True, IntakeOutcome.TOUCHED),
        ("lost", False, IntakeOutcome.RETURNING),
        ("recycled", True, IntakeOutcome.REOPENED),
        ("no_decision", True, IntakeOutcome.REOPENED),
        ("won", True, IntakeOutcome.LINKED),
        ("disqualified", True, IntakeOutcome.LINKED),
        ("dead", False, IntakeOutcome.LINKED),
    ],
)
def test_decide_by_the_status_of_the_persons_lead(
    status: str | None, reopen: bool, outcome: IntakeOutcome
) -> None:
    matched = DEFAULT.outcome(status) if status is not None else None
    assert decide(matched, reopen_returning=reopen) is outcome


@pytest.mark.parametrize(
    ("status", "reopen", "outcome"),
    [
        ("proof_of_concept", True, IntakeOutcome.TOUCHED),
        ("lost_to_competitor", False, IntakeOutcome.RETURNING),
        ("lost_to_competitor", True, IntakeOutcome.REOPENED),
        ("stalled", True, IntakeOutcome.REOPENED),
        ("nurture", False, IntakeOutcome.RETURNING),
        ("closed_won_upsell", True, IntakeOutcome.LINKED),
        ("unqualified", False, IntakeOutcome.LINKED),
    ],
)
def test_decide_reads_the_outcome_not_the_status_key(
    status: str, reopen: bool, outcome: IntakeOutcome
) -> None:
    """A customer's renamed statuses decide as their outcome does."""
    assert decide(ENTERPRISE.outcome(status), reopen_returning=reopen) is outcome


@pytest.mark.parametrize(
    ("matched", "reopen", "outcome"),
    [
        (Outcome.OPEN, True, IntakeOutcome.TOUCHED),
        (Outcome.LOST, False, IntakeOutcome.RETURNING),
        (Outcome.NO_DECISION, False, IntakeOutcome.RETURNING),
        (Outcome.RECYCLED, True, IntakeOutcome.REOPENED),
        (Outcome.WON, False, IntakeOutcome.LINKED),
        (Outcome.DISQUALIFIED, False, IntakeOutcome.LINKED),
        (Outcome.DEAD, True, IntakeOutcome.LINKED),
    ],
)
def test_decide_by_outcome(matched: Outcome, reopen: bool, outcome: IntakeOutcome) -> None:
    assert decide(matched, reopen_returning=reopen) is outcome


def test_every_outcome_is_decided() -> None:
    """No outcome falls through to an unexpected answer (the table above covers them all)."""
    for matched in Outcome:
        assert decide(matched, reopen_returning=False) in {
            IntakeOutcome.TOUCHED,
            IntakeOutcome.RETURNING,
            IntakeOutcome.LINKED,
        }


def test_intake_reopens_with_needs_changed_where_the_pipeline_has_it() -> None:
    assert reopen_reason(DEFAULT) == "needs_changed"


def test_intake_reopens_with_the_first_code_that_needs_nothing_else() -> None:
    """The enterprise reopen dropdown starts with `other` (needs a note): it is skipped."""
    assert reopen_reason(ENTERPRISE) == "budget_released"


def test_intake_cannot_reopen_where_every_reopen_code_needs_a_field() -> None:
    doc = copy_document(ENTERPRISE)
    doc["reasons"]["reopen"] = {
        "codes": [{"code": "other", "label": "Other", "requires": ["note"]}]
    }
    workflow = build_workflow(doc, pipeline="enterprise", version=2)
    assert reopen_reason(workflow) is None


def test_emails_compare_trimmed_and_lower_cased_keeping_tags_and_dots() -> None:
    assert normalize_email("  Ann.Lee+expo@Example.COM ") == "ann.lee+expo@example.com"


@pytest.mark.parametrize(
    ("event", "where"),
    [
        (
            {"eventId": "9" * 10_000, "subscriptionType": "contact.creation", "objectId": 1},
            "0.eventId",
        ),
        (
            {"eventId": 1, "subscriptionType": "contact.creation", "objectId": "7" * 10_000},
            "0.objectId",
        ),
    ],
)
def test_hubspot_ids_past_the_bound_are_refused(event: dict[str, object], where: str) -> None:
    with pytest.raises(PayloadRefused) as refused:
        read(SourceKind.HUBSPOT, orjson.dumps([event]), content_type=JSON, field_map={})
    assert refused.value.facts["field"] == where
    fine = {**event, where.split(".")[1]: "1" * MAX_ID_LENGTH}
    (arrival,) = read(SourceKind.HUBSPOT, orjson.dumps([fine]), content_type=JSON, field_map={})
    assert arrival.outcome is IntakeOutcome.AWAITING_EMAIL


def test_a_standard_message_id_past_the_bound_is_refused() -> None:
    body = orjson.dumps({"data": {"email": "a@x.example"}})
    with pytest.raises(PayloadRefused) as refused:
        read(SourceKind.STANDARD, body, content_type=JSON, field_map={}, message_id="m" * 256)
    assert refused.value.facts["field"] == "webhook-id"
    (arrival,) = read(
        SourceKind.STANDARD, body, content_type=JSON, field_map={}, message_id="m" * 255
    )
    assert arrival.event_id == "m" * 255
