"""What Schemathesis found against the served API (`make fuzz`), kept as fast regular tests.

Each test failed before its fix: a 500 where the request was merely invalid, or an answer the
OpenAPI document did not promise.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from app.platform.http.requests import IF_MATCH_FORM, expected_version
from tests.http_support import assert_problem, create

NUL = "\x00"


def _invalid_field(r: httpx.Response, *loc: str) -> None:
    body = assert_problem(r, 422, "request-validation-failed")
    assert [e["loc"] for e in body["errors"]] == [list(loc)], body


# PostgreSQL's text and jsonb cannot hold U+0000: these were 500s (CharacterNotInRepertoireError,
# UntranslatableCharacterError) from the database instead of 422s from validation.


@pytest.mark.parametrize("field", ["first_name", "company", "phone", "owner", "external_id"])
async def test_nul_in_a_lead_field_is_refused_as_invalid(
    client: httpx.AsyncClient, field: str
) -> None:
    r = await client.post("/v1/leads", json={"email": "nul@example.com", field: f"a{NUL}b"})
    _invalid_field(r, "body", field)
    lead = await create(client, "nul@example.com")
    r = await client.patch(f"/v1/leads/{lead['id']}", json={field: NUL})
    _invalid_field(r, "body", field)


@pytest.mark.parametrize(
    "attributes", [{"k": f"a{NUL}"}, {f"k{NUL}": 1}, {"k": [{"deep": [NUL]}]}], ids=str
)
async def test_nul_anywhere_in_attributes_is_refused_as_invalid(
    client: httpx.AsyncClient, attributes: dict[str, Any]
) -> None:
    r = await client.post("/v1/leads", json={"email": "nul@example.com", "attributes": attributes})
    _invalid_field(r, "body", "attributes")


async def test_attributes_may_hold_the_text_backslash_u0000(client: httpx.AsyncClient) -> None:
    """The quick scan of the serialized JSON must not mistake an escaped backslash for U+0000."""
    lead = await create(client, "text@example.com", attributes={"k": "\\u0000"})
    assert lead["attributes"] == {"k": "\\u0000"}


async def test_nul_in_one_batch_item_rejects_that_item_only(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/leads:batch",
        json={
            "leads": [
                {"email": "fine@example.com"},
                {"email": "nul@example.com", "title": f"C{NUL}O"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["rejected"]) == (1, 1)
    assert body["items"][1]["problem"]["errors"][0]["loc"] == ["title"]


async def test_nul_in_a_status_change_is_refused_as_invalid(client: httpx.AsyncClient) -> None:
    lead = await create(client, "nul@example.com")
    r = await client.post(
        f"/v1/leads/{lead['id']}/transitions",
        json={"to": "contacted", "reason": "call_connected", "actor": f"ana{NUL}"},
    )
    _invalid_field(r, "body", "actor")


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/leads", "owner"),
        ("/v1/leads", "source"),
        ("/v1/leads", "segment"),
        ("/v1/leads/1/history", "actor"),
        ("/v1/leads/1/history", "api_key"),
        ("/v1/metrics/summary", "owner"),
        ("/v1/metrics/sources", "source"),
        ("/v1/metrics/loss-reasons", "segment"),
    ],
)
async def test_nul_in_a_query_filter_is_refused_as_invalid(
    client: httpx.AsyncClient, path: str, param: str
) -> None:
    r = await client.get(path, params={param: f"x{NUL}y"})
    _invalid_field(r, "query", param)


# orjson (the jsonb codec) writes integers up to 64 bits: a larger one in attributes raised
# TypeError while validating, a 500.


@pytest.mark.parametrize("number", [2**64, -(2**70)])
async def test_attributes_integer_past_64_bits_is_refused_as_invalid(
    client: httpx.AsyncClient, number: int
) -> None:
    r = await client.post(
        "/v1/leads", json={"email": "big@example.com", "attributes": {"n": number}}
    )
    _invalid_field(r, "body", "attributes")
    lead = await create(client, "big@example.com")
    r = await client.patch(f"/v1/leads/{lead['id']}", json={"attributes": {"n": number}})
    _invalid_field(r, "body", "attributes")


# Instants at the edges of the calendar: asyncpg sends Python's first and last dates as -infinity
# and infinity, and an offset can push an instant past them. A metrics window there was a 500
# (OverflowError) or a series of buckets from -infinity that ran into the statement timeout
# (503); a list filter or a revisit date there was a 500 (DataError), or stored infinity.


@pytest.mark.parametrize(
    "window",
    [
        {"to": "0001-01-09"},
        {"to": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-02-01"},
        {"from": "0001-01-01T00:00:00+14:00", "to": "0001-01-02"},
        {"from": "9999-10-01", "to": "9999-12-31T23:59:59-14:00"},
    ],
    ids=str,
)
@pytest.mark.parametrize("path", ["/v1/metrics/summary", "/v1/metrics/timeseries"])
async def test_metrics_window_past_the_recorded_years_is_refused(
    client: httpx.AsyncClient, path: str, window: dict[str, str]
) -> None:
    r = await client.get(path, params={"metric": "won", "interval": "month", **window})
    body = assert_problem(r, 422, "invalid-window")
    assert "1970-01-01 and 3000-01-01" in body["detail"]


async def test_metrics_window_at_the_recorded_years_is_answered(
    client: httpx.AsyncClient,
) -> None:
    for window in ({"from": "1970-01-01", "to": "1970-03-01"}, {"to": "2999-12-31"}):
        r = await client.get("/v1/metrics/timeseries", params={"metric": "won", **window})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "bound",
    [
        {"created_after": "0001-01-01T00:00:00+14:00"},
        {"created_after": "0001-01-01T00:00:00"},
        {"created_before": "9999-12-31T23:59:59-14:00"},
        {"created_before": "9999-12-31T23:59:59.999999"},
    ],
    ids=str,
)
async def test_list_filter_at_the_edges_of_the_calendar_matches_every_lead(
    client: httpx.AsyncClient, bound: dict[str, str]
) -> None:
    lead = await create(client, "edge@example.com")
    r = await client.get("/v1/leads", params=bound)
    assert r.status_code == 200, r.text
    assert [item["id"] for item in r.json()["items"]] == [lead["id"]]


@pytest.mark.parametrize(
    "revisit_at", ["9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59.999999Z", "3000-01-01T00:00Z"]
)
async def test_revisit_at_past_the_recorded_years_is_refused(
    client: httpx.AsyncClient, revisit_at: str
) -> None:
    lead = await create(client, "later@example.com")
    r = await client.post(
        f"/v1/leads/{lead['id']}/transitions",
        json={"to": "recycled", "reason": "timing", "revisit_at": revisit_at},
    )
    body = assert_problem(r, 422, "invalid-status-change")
    assert body["field"] == "revisit_at"


# GET /problems/{type} answered 404 for an unknown type without documenting it.


async def test_unknown_problem_type_is_a_documented_404(
    anonymous: httpx.AsyncClient, app: FastAPI
) -> None:
    assert_problem(await anonymous.get("/problems/no-such-thing"), 404, "http-not-found")
    documented = app.openapi()["paths"]["/problems/{problem_type}"]["get"]["responses"]
    assert "application/problem+json" in documented["404"]["content"]


# If-Match had no documented form, so generated values were nearly all refused (400) before any
# work: the form is now in the document, and every value it allows must be accepted.


@given(st.from_regex(IF_MATCH_FORM, fullmatch=True))
def test_every_documented_if_match_is_accepted(value: str) -> None:
    version = expected_version(value)
    assert version == (None if value == "*" else int(re.sub(r"\D", "", value)))


# A 405 listed the methods of the first route of its path only: `OPTIONS /v1/leads` said
# `Allow: POST` though `GET /v1/leads` exists (Schemathesis' allow_header_conformance).


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/leads", {"GET", "POST"}),
        ("/v1/leads/1", {"GET", "PATCH"}),
        ("/v1/intake/hubspot-main", {"GET", "POST"}),
    ],
)
async def test_a_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, methods: set[str]
) -> None:
    for method in ("OPTIONS", "PUT", "DELETE"):
        r = await client.request(method, path)
        assert_problem(r, 405)
        assert set(r.headers["allow"].split(", ")) == methods, (method, r.headers["allow"])


# A number where the document says date or date-time was read as a Unix time:
# `GET /v1/leads?created_before=0.5` answered 200 (Schemathesis' negative_data_rejection).


@pytest.mark.parametrize("value", ["0.5", "1700000000", "-1", "1e9", "nan", "Infinity"])
async def test_a_number_is_no_instant_in_a_filter(client: httpx.AsyncClient, value: str) -> None:
    for name in ("created_before", "created_after"):
        r = await client.get("/v1/leads", params={name: value})
        _invalid_field(r, "query", name)


@pytest.mark.parametrize("value", [1700000000, 0.5, "1700000000"])
async def test_a_number_is_no_date_in_a_body(client: httpx.AsyncClient, value: Any) -> None:
    r = await client.post(
        "/v1/leads", json={"email": "unix@example.com", "expected_close_date": value}
    )
    _invalid_field(r, "body", "expected_close_date")
    lead = await create(client, "unix@example.com")
    r = await client.post(
        f"/v1/leads/{lead['id']}/transitions",
        json={"to": "recycled", "reason": "timing", "revisit_at": value},
    )
    _invalid_field(r, "body", "revisit_at")


async def test_iso_8601_text_is_still_an_instant(client: httpx.AsyncClient) -> None:
    for value in ("2026-03-01", "2026-03-01T09:00:00Z", "2026-03-01T09:00:00+02:00"):
        r = await client.get("/v1/leads", params={"created_before": value})
        assert r.status_code == 200, (value, r.text)


# One JSON reader for every route: a single create stored `NaN` in attributes as null, and a
# batch read an integer past 64 bits as a float, losing its digits.

NOT_JSON = ["NaN", "Infinity", "-Infinity", "1e400"]


@pytest.mark.parametrize("number", NOT_JSON)
async def test_a_number_json_does_not_have_is_refused_by_every_route(
    client: httpx.AsyncClient, number: str
) -> None:
    lead = f'{{"email": "nan@example.com", "attributes": {{"score": {number}}}}}'
    headers = {"content-type": "application/json"}
    r = await client.post("/v1/leads", content=lead, headers=headers)
    body = assert_problem(r, 422, "request-validation-failed")
    assert body["errors"][0]["type"] == "json_invalid"
    r = await client.post("/v1/leads:batch", content=f'{{"leads": [{lead}]}}', headers=headers)
    assert_problem(r, 400, "malformed-body")
    r = await client.get("/v1/leads")  # the tables are emptied before each test
    assert r.json()["items"] == []


async def test_an_integer_past_64_bits_is_refused_in_a_batch_too(
    client: httpx.AsyncClient,
) -> None:
    huge = 123456789012345678901234567890
    lead = f'{{"email": "big@example.com", "attributes": {{"n": {huge}}}}}'
    headers = {"content-type": "application/json"}
    single = await client.post("/v1/leads", content=lead, headers=headers)
    assert_problem(single, 422, "request-validation-failed")
    r = await client.post("/v1/leads:batch", content=f'{{"leads": [{lead}]}}', headers=headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["result"] == "rejected"
    assert item["problem"]["errors"][0]["loc"] == ["attributes"]


# Found with every Schemathesis check on (make fuzz):
# - `?segment=a&segment=b` was answered for the last value only (negative_data_rejection);
# - an invalid pipeline definition with a stale If-Match was 412, not 422;
# - `PUT /v1/pipelines/default:validate` was taken for a pipeline named `default:validate`
#   (422 on its name) where the path has only POST (unsupported_method);
# - `GET /v1/events?after=` was 410 "no event  is kept", not a refusal of the empty id.


async def test_a_parameter_given_twice_is_refused_unless_it_takes_a_list(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/v1/metrics/sources", params=[("segment", "smb"), ("segment", "x")])
    _invalid_field(r, "query", "segment")
    r = await client.get("/v1/leads", params=[("owner", "a"), ("owner", "b")])
    _invalid_field(r, "query", "owner")
    r = await client.get("/v1/leads", params=[("status", "new"), ("status", "contacted")])
    assert r.status_code == 200, r.text


async def test_an_invalid_definition_is_422_whatever_the_if_match(
    client: httpx.AsyncClient,
) -> None:
    r = await client.put(
        "/v1/pipelines/partners", json={"label": "no statuses"}, headers={"If-Match": '"7"'}
    )
    assert_problem(r, 422)


async def test_a_method_a_colon_path_lacks_is_405(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/pipelines/default:validate", json={})
    assert_problem(r, 405)
    assert r.headers["allow"] == "POST"
    r = await client.get("/v1/pipelines/default")
    assert r.status_code == 200


@pytest.mark.parametrize("after", ["", "1", "event_1", "evt_"])
async def test_an_event_id_not_of_the_log_form_is_refused(
    client: httpx.AsyncClient, after: str
) -> None:
    _invalid_field(await client.get("/v1/events", params={"after": after}), "query", "after")
