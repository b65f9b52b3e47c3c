"""What an operator sees: `/metrics`, the request log line and `X-Request-ID`, over real HTTP.

The app is shared by the session, so its counters carry earlier tests' requests: every count is
read before and after, and the difference is what a test asserts.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook

from app.platform.observability.logs import JsonLines
from app.platform.settings import Settings
from tests.http_support import assert_problem, configure, create, move
from tests.served import ServedProcess

REQUESTS = "leadstatus_http_requests_total"
DURATIONS = "leadstatus_http_request_duration_seconds_count"
TRANSITIONS = "leadstatus_lead_transitions_total"
REOPENINGS = "leadstatus_lead_reopenings_total"
DELIVERIES = "leadstatus_intake_deliveries_total"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none yet)."""
    return sum(
        v
        for sample, found, v in samples(text)
        if sample == name and all(found.get(k) == want for k, want in labels.items())
    )


async def scrape(client: httpx.AsyncClient) -> str:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The service's log lines as a deployment writes them: formatted when logged, as JSON."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("leadstatus")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def parsed(out: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def request_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in parsed(out) if line["logger"] == "leadstatus.requests"]


# --- /metrics ---------------------------------------------------------------------------------


async def test_created_leads_are_counted_under_the_route_template_with_status_201(
    client: httpx.AsyncClient,
) -> None:
    labels = {"method": "POST", "route": "/v1/leads", "status": "201"}
    before = await scrape(client)
    for n in range(3):
        await create(client, f"counted{n}@example.com")
    after = await scrape(client)
    assert value(after, REQUESTS, **labels) == value(before, REQUESTS, **labels) + 3
    assert value(after, DURATIONS, **labels) == value(before, DURATIONS, **labels) + 3


async def test_routes_are_labelled_by_template_never_by_path(client: httpx.AsyncClient) -> None:
    lead = await create(client, "template@example.com")
    assert (await client.get(f"/v1/leads/{lead['id']}")).status_code == 200
    assert (await client.get("/v1/leads/999999")).status_code == 404
    assert (await client.get("/no/such/page/123")).status_code == 404
    text = await scrape(client)
    routes = {labels["route"] for name, labels, _ in samples(text) if name == REQUESTS}
    assert {"/v1/leads/{lead_id}", "unmatched"} <= routes
    assert not [route for route in routes if re.search(r"/\d", route)], routes
    assert value(text, REQUESTS, route="/v1/leads/{lead_id}", status="404") >= 1


async def test_an_unknown_method_is_counted_as_other(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    r = await client.request("BREW", "/v1/leads")
    assert r.status_code == 405
    after = await scrape(client)
    labels = {"method": "other", "route": "/v1/leads", "status": "405"}
    assert value(after, REQUESTS, **labels) == value(before, REQUESTS, **labels) + 1
    assert 'method="BREW"' not in after


async def test_a_transition_is_counted_by_from_to_reason_and_a_refused_one_is_not(
    client: httpx.AsyncClient,
) -> None:
    lead = await create(client, "moved@example.com")
    contacted = {"from_status": "new", "to_status": "contacted", "reason": "call_connected"}
    before = await scrape(client)
    assert (await move(client, lead["id"], "contacted", "call_connected")).status_code == 200
    middle = await scrape(client)
    assert value(middle, TRANSITIONS, **contacted) == value(before, TRANSITIONS, **contacted) + 1
    assert value(middle, TRANSITIONS) == value(before, TRANSITIONS) + 1

    assert_problem(await move(client, lead["id"], "won", "contract_signed"), 409)
    after = await scrape(client)
    assert value(after, TRANSITIONS) == value(middle, TRANSITIONS)
    assert value(after, TRANSITIONS, to_status="won") == value(middle, TRANSITIONS, to_status="won")


async def test_a_replayed_idempotent_transition_is_counted_once(client: httpx.AsyncClient) -> None:
    lead = await create(client, "retried@example.com")
    body = {"to": "qualified", "reason": "budget_confirmed"}
    headers = {"Idempotency-Key": "obs-retry-1"}
    before = await scrape(client)
    for _ in range(2):
        r = await client.post(f"/v1/leads/{lead['id']}/transitions", json=body, headers=headers)
        assert r.status_code == 200, r.text
    after = await scrape(client)
    qualified = {"from_status": "new", "to_status": "qualified", "reason": "budget_confirmed"}
    assert value(after, TRANSITIONS, **qualified) == value(before, TRANSITIONS, **qualified) + 1


async def test_a_reopening_is_counted_with_its_target_and_reason(
    client: httpx.AsyncClient,
) -> None:
    lead = await create(client, "reopened@example.com")
    assert (await move(client, lead["id"], "qualified", "need_confirmed")).status_code == 200
    assert (await move(client, lead["id"], "lost", "price")).status_code == 200
    reopened = {"from_status": "lost", "to_status": "qualified", "reason": "budget_approved"}
    before = await scrape(client)
    r = await client.post(f"/v1/leads/{lead['id']}/reopen", json={"reason": "budget_approved"})
    assert r.status_code == 200, r.text
    after = await scrape(client)
    assert value(after, REOPENINGS, **reopened) == value(before, REOPENINGS, **reopened) + 1
    assert value(after, TRANSITIONS) == value(before, TRANSITIONS)


async def test_pool_gauges_read_the_pool_at_scrape_time(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    async with pool.acquire(), pool.acquire():
        text = await scrape(client)
    in_use = value(text, "leadstatus_db_pool_connections", pool="primary", state="in_use")
    idle = value(text, "leadstatus_db_pool_connections", pool="primary", state="idle")
    limit = value(text, "leadstatus_db_pool_connections_max", pool="primary")
    assert limit == settings.pool_max_size
    assert 2 <= in_use <= limit and idle >= 0 and in_use + idle <= limit
    released = await scrape(client)
    assert value(released, "leadstatus_db_pool_connections", state="in_use") <= in_use - 2


async def test_intake_events_are_counted_by_source_and_outcome(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    secret = await configure(app, pool, "obs-forms", "standard")
    body = orjson.dumps({"type": "lead.created", "data": {"email": "intake@example.com"}})

    async def deliver() -> httpx.Response:
        at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": "msg_obs",
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign("msg_obs", at, body.decode()),
        }
        return await client.post("/v1/intake/obs-forms", content=body, headers=headers)

    created = {"source": "obs-forms", "outcome": "created"}
    again = {"source": "obs-forms", "outcome": "redelivered"}
    before = await scrape(client)
    assert (await deliver()).json()["outcome"] == "created"
    middle = await scrape(client)
    assert value(middle, DELIVERIES, **created) == value(before, DELIVERIES, **created) + 1
    assert (await deliver()).json()["outcome"] == "created"  # the stored answer, again
    after = await scrape(client)
    assert value(after, DELIVERIES, **created) == value(middle, DELIVERIES, **created)
    assert value(after, DELIVERIES, **again) == value(middle, DELIVERIES, **again) + 1


async def test_metrics_need_no_key_and_are_documented_as_open(
    anonymous: httpx.AsyncClient, app: FastAPI
) -> None:
    r = await anonymous.get("/metrics")
    assert r.status_code == 200
    assert "leadstatus_http_requests_total" in r.text
    operation = app.openapi()["paths"]["/metrics"]["get"]
    assert operation["tags"] == ["health"]
    assert "security" not in operation and "no API key" in operation["description"]


async def test_openmetrics_is_served_when_the_scraper_asks_for_it(
    anonymous: httpx.AsyncClient,
) -> None:
    r = await anonymous.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


# --- X-Request-ID -----------------------------------------------------------------------------


async def test_a_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/workflow", headers={"X-Request-ID": "trace-42/abc:def"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "trace-42/abc:def"


async def test_a_request_id_is_generated_when_none_is_sent(client: httpx.AsyncClient) -> None:
    first, second = [(await client.get("/healthz")).headers["x-request-id"] for _ in range(2)]
    assert GENERATED_ID.match(first) and GENERATED_ID.match(second) and first != second


@pytest.mark.parametrize(
    "sent",
    [b"x" * 129, "caf\u00e9".encode(), b"bad\x01id", b" padded", b""],
    ids=["too-long", "not-ascii", "control-character", "leading-space", "empty"],
)
async def test_a_malformed_request_id_is_replaced(client: httpx.AsyncClient, sent: bytes) -> None:
    r = await client.get("/healthz", headers={b"X-Request-ID": sent})
    assert r.status_code == 200
    assert GENERATED_ID.match(r.headers["x-request-id"]), r.headers["x-request-id"]


async def test_the_longest_sane_request_id_is_kept(client: httpx.AsyncClient) -> None:
    sent = "a" * 128
    assert (await client.get("/healthz", headers={"X-Request-ID": sent})).headers[
        "x-request-id"
    ] == sent


async def test_refusals_carry_the_request_id(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    given = {"X-Request-ID": "refused-1"}
    unauthenticated = await anonymous.get("/v1/leads", headers=given)
    assert_problem(unauthenticated, 401, "unauthenticated")
    invalid = await client.post("/v1/leads", json={"email": "not an email"}, headers=given)
    assert_problem(invalid, 422)
    missing = await client.get("/no/such/page", headers=given)
    assert_problem(missing, 404)
    for r in (unauthenticated, invalid, missing):
        assert r.headers["x-request-id"] == "refused-1"


async def test_a_body_refused_by_the_limits_layer_carries_an_id_and_its_route(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    labels = {"method": "POST", "route": "/v1/leads", "status": "413"}
    before = await scrape(client)
    r = await client.post(
        "/v1/leads",
        content=b"x" * (settings.max_body_bytes + 1),
        headers={"content-type": "application/json", "X-Request-ID": "too-big"},
    )
    assert_problem(r, 413, "body-too-large")
    assert r.headers["x-request-id"] == "too-big"
    after = await scrape(client)
    assert value(after, REQUESTS, **labels) == value(before, REQUESTS, **labels) + 1


# --- the request log line ---------------------------------------------------------------------


async def test_a_request_line_names_route_status_time_id_and_key_name_never_the_key(
    client: httpx.AsyncClient, admin_key: str, log_lines: io.StringIO
) -> None:
    r = await client.post(
        "/v1/leads", json={"email": "logged@example.com"}, headers={"X-Request-ID": "line-1"}
    )
    assert r.status_code == 201
    [line] = [line for line in request_lines(log_lines) if line.get("request_id") == "line-1"]
    assert line["method"] == "POST" and line["route"] == "/v1/leads" and line["status"] == 201
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["key_name"] == "suite-admin" and line["level"] == "info"
    assert line["client"] == "127.0.0.1"
    read = await client.get(f"/v1/leads/{r.json()['id']}", headers={"X-Request-ID": "line-2"})
    assert read.status_code == 200
    [line] = [line for line in request_lines(log_lines) if line.get("request_id") == "line-2"]
    assert line["message"] == "GET /v1/leads/{lead_id} 200"
    assert f"/v1/leads/{r.json()['id']}" not in log_lines.getvalue()
    assert admin_key not in log_lines.getvalue() and admin_key[4:] not in log_lines.getvalue()


async def test_a_refused_key_is_never_logged(
    anonymous: httpx.AsyncClient, log_lines: io.StringIO
) -> None:
    wrong = "lsk_" + "z" * 43
    r = await anonymous.get("/v1/leads", headers={"Authorization": f"Bearer {wrong}"})
    assert_problem(r, 401)
    [line] = [
        line for line in request_lines(log_lines) if line["request_id"] == r.headers["x-request-id"]
    ]
    assert (line["route"], line["status"], line["key_name"]) == ("/v1/leads", 401, None)
    assert wrong not in log_lines.getvalue() and "z" * 20 not in log_lines.getvalue()


async def test_the_query_string_is_never_logged(
    app: FastAPI, pool: asyncpg.Pool, anonymous: httpx.AsyncClient, log_lines: io.StringIO
) -> None:
    secret = await configure(app, pool, "obs-chimp", "mailchimp")
    r = await anonymous.get(f"/v1/intake/obs-chimp?secret={secret}")
    assert r.status_code == 200, r.text
    [line] = [
        line for line in request_lines(log_lines) if line["request_id"] == r.headers["x-request-id"]
    ]
    assert line["route"] == "/v1/intake/{source}"
    assert secret not in log_lines.getvalue()


async def test_lines_logged_during_a_request_carry_its_id(
    app: FastAPI, pool: asyncpg.Pool, anonymous: httpx.AsyncClient, log_lines: io.StringIO
) -> None:
    await configure(app, pool, "obs-mkto", "marketo")
    r = await anonymous.post(
        "/v1/intake/obs-mkto",
        json={"email": "k@example.com"},
        headers={"X-Webhook-Secret": "wrong", "X-Request-ID": "joined-1"},
    )
    assert_problem(r, 401, "signature-refused")
    refused = [line for line in parsed(log_lines) if line["logger"] == "leadstatus.intake"]
    assert refused and all(line["request_id"] == "joined-1" for line in refused)
    assert refused[0]["level"] == "warning"
    assert [line["status"] for line in request_lines(log_lines)] == [401]


# --- `leadstatus serve`, as deployed ----------------------------------------------------------


def test_a_served_process_logs_json_lines_without_keys_or_traces(
    database_url: str, admin_key: str
) -> None:
    process = ServedProcess(database_url).start()  # stderr is a file: JSON, as deployed
    try:
        with httpx.Client(base_url=process.url, timeout=10) as c:
            created = c.post(
                "/v1/leads",
                json={"email": "served-log@example.com"},
                headers={"X-API-Key": admin_key, "X-Request-ID": "served-1"},
            )
            assert created.status_code == 201, created.text
            assert c.get("/v1/leads", headers={"X-API-Key": "lsk_nope"}).status_code == 401
            assert "leadstatus_http_requests_total" in c.get("/metrics").text
    finally:
        process.stop()
    log = process.log()
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # the server's, too
    [line] = [line for line in lines if line.get("request_id") == "served-1"]
    assert (line["route"], line["status"], line["key_name"]) == ("/v1/leads", 201, "suite-admin")
    statuses = {(line.get("route"), line.get("status")) for line in lines}
    assert {("/v1/leads", 401), ("/metrics", 200)} <= statuses
    assert admin_key not in log and "lsk_nope" not in log and "Traceback" not in log
