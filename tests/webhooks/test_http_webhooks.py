"""Webhooks end to end: endpoints kept through the API, events POSTed to a real receiver on a
loopback port, signed, retried, paused and resumed without a loss."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from app.webhooks.domain import RETRY_DELAYS, DeliveryState, parse_networks
from app.webhooks.repository import Attempted, DeliveryRepository
from app.webhooks.sending import Sender
from app.webhooks.service import LEASE, SENDING_AT_ONCE, Round, deliver_round, prune_deliveries
from tests.http_support import assert_problem, create, move
from tests.served import free_port
from tests.webhooks.receiver import Receiver, serving

LOOPBACK = "127.0.0.0/8"


@pytest.fixture
def loopback_allowed(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver listens on loopback, which only a listed network lets webhooks reach."""
    monkeypatch.setattr(app.state.settings, "webhook_allowed_networks", LOOPBACK)


@pytest.fixture
async def receiver(loopback_allowed: None) -> AsyncIterator[Receiver]:
    async with serving() as r:
        yield r


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    s = Sender(parse_networks(LOOPBACK), timeout_s=1.0)
    yield s
    await s.close()


async def subscribe(client: httpx.AsyncClient, url: str, **extra: Any) -> dict[str, Any]:
    r = await client.post("/v1/webhooks", json={"url": url, **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def deliver(pool: asyncpg.Pool, app: FastAPI, sender: Sender) -> Round:
    return await deliver_round(pool, sender, app.state.sealer, random.Random(1))


async def deliveries(client: httpx.AsyncClient, endpoint_id: int) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/webhooks/{endpoint_id}/deliveries")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def make_due(pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")


async def spend_the_retries(pool: asyncpg.Pool) -> None:
    """Every pending delivery at its last attempt, due now."""
    await pool.execute(
        "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = now()"
        " WHERE state = 'pending'",
        len(RETRY_DELAYS),
    )


async def test_an_endpoint_is_kept_and_its_secret_shown_once(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    made = await subscribe(
        client, receiver.url, event_types=["lead.status_changed"], description="billing"
    )
    assert made["secret"].startswith("whsec_")
    assert (made["enabled"], made["event_types"], made["pipeline"]) == (
        True,
        ["lead.status_changed"],
        None,
    )
    read = (await client.get(f"/v1/webhooks/{made['id']}")).json()
    assert "secret" not in read and read["description"] == "billing"
    assert [w["id"] for w in (await client.get("/v1/webhooks")).json()] == [made["id"]]
    r = await client.patch(f"/v1/webhooks/{made['id']}", json={"description": "invoices"})
    assert r.json()["description"] == "invoices"
    assert (await client.delete(f"/v1/webhooks/{made['id']}")).status_code == 204
    assert_problem(await client.get(f"/v1/webhooks/{made['id']}"), 404, "webhook-not-found")
    assert_problem(await client.delete(f"/v1/webhooks/{made['id']}"), 404, "webhook-not-found")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.7/hook", "private"),
        ("ftp://example.com/hook", "http:// or https://"),
        ("https://leadstatus-no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_a_target_the_service_will_not_reach_is_refused_with_the_reason(
    client: httpx.AsyncClient, url: str, why: str
) -> None:
    body = assert_problem(
        await client.post("/v1/webhooks", json={"url": url}), 422, "invalid-webhook-target"
    )
    assert why in body["why"] and body["field"] == "url"
    assert (await client.get("/v1/webhooks")).json() == []


async def test_events_arrive_signed_and_as_the_log_has_them(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    lead = await create(client, "hook@example.com")
    assert (await move(client, lead["id"], "qualified", "need_confirmed")).status_code == 200
    done = await deliver(pool, app, sender)
    assert (done.queued, done.sent, done.delivered) == (2, 2, 2)
    log = (await client.get("/v1/events")).json()["events"]
    assert len(receiver.requests) == 2  # one lead's events, in the log's order
    for got, event in zip(receiver.requests, log, strict=True):
        assert got.path == "/hooks/leads"
        assert got.headers["webhook-id"] == event["id"]
        assert got.headers["content-type"] == "application/json"
        assert Webhook(endpoint["secret"]).verify(got.body, got.headers) == event
    assert [d["state"] for d in await deliveries(client, endpoint["id"])] == ["delivered"] * 2
    assert (await deliver(pool, app, sender)).sent == 0


async def test_an_endpoint_gets_only_the_types_and_pipeline_it_asked_for(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    await subscribe(client, receiver.url, event_types=["lead.status_changed"])
    await subscribe(client, receiver.url.replace("leads", "partners"), pipeline="partners")
    lead = await create(client, "types@example.com")
    assert (await move(client, lead["id"], "contacted", "call_connected")).status_code == 200
    await deliver(pool, app, sender)
    assert [orjson.loads(r.body)["type"] for r in receiver.requests] == ["lead.status_changed"]
    assert {r.path for r in receiver.requests} == {"/hooks/leads"}


async def test_a_failed_attempt_is_retried_on_the_schedule_and_recorded(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    receiver.answers = [500, 302]
    await create(client, "retry@example.com")
    before = datetime.now(UTC)
    assert (await deliver(pool, app, sender)).delivered == 0
    [pending] = await deliveries(client, endpoint["id"])
    assert (pending["state"], pending["attempts"], pending["last_status"]) == ("pending", 1, 500)
    assert pending["last_error"] == "HTTP 500"
    wait = datetime.fromisoformat(pending["next_attempt_at"]) - before
    assert RETRY_DELAYS[0] * 0.75 < wait < RETRY_DELAYS[0] * 1.25 + timedelta(seconds=2)
    failing = (await client.get(f"/v1/webhooks/{endpoint['id']}")).json()["failing_since"]
    assert failing is not None
    assert (await deliver(pool, app, sender)).sent == 0  # not due yet
    await make_due(pool)
    assert (await deliver(pool, app, sender)).delivered == 0  # a redirect is not followed
    await make_due(pool)
    assert (await deliver(pool, app, sender)).delivered == 1
    [done] = await deliveries(client, endpoint["id"])
    assert [t["status"] for t in done["tries"]] == [500, 302, 204]
    assert (done["state"], done["attempts"], done["next_attempt_at"]) == ("delivered", 3, None)
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert (await client.get(f"/v1/webhooks/{endpoint['id']}")).json()["failing_since"] is None


async def test_no_answer_in_time_and_no_connection_are_failures_with_their_reason(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    slow = await subscribe(client, receiver.url)
    closed = await subscribe(client, f"http://127.0.0.1:{free_port()}/nobody")
    receiver.delay_s = 1.5
    await create(client, "slow@example.com")
    await deliver(pool, app, sender)
    [late] = await deliveries(client, slow["id"])
    assert (late["last_status"], late["last_error"]) == (None, "no answer within 1 s")
    assert late["last_duration_ms"] >= 900
    [refused] = await deliveries(client, closed["id"])
    assert refused["last_status"] is None
    assert refused["last_error"].startswith("connection failed")
    assert {late["state"], refused["state"]} == {"pending"}


async def test_a_410_disables_the_endpoint_and_nothing_is_lost_until_it_is_back(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    receiver.answers = [410]
    await create(client, "gone@example.com")
    await deliver(pool, app, sender)
    off = (await client.get(f"/v1/webhooks/{endpoint['id']}")).json()
    assert off["enabled"] is False and "410" in off["disabled_reason"]
    for i in range(3):
        await create(client, f"while-off{i}@example.com")
    assert (await deliver(pool, app, sender)).sent == 0
    assert len(receiver.requests) == 1
    r = await client.patch(f"/v1/webhooks/{endpoint['id']}", json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True
    assert r.json()["disabled_reason"] is None
    await deliver(pool, app, sender)
    emails = [orjson.loads(q.body)["data"]["lead"]["email"] for q in receiver.requests]
    assert sorted(emails) == ["gone@example.com"] * 2 + [
        f"while-off{i}@example.com" for i in range(3)
    ]


async def test_retries_run_out_and_five_days_of_failing_disable_the_endpoint(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    receiver.answers = [503, 503, 503]
    await create(client, "spent@example.com")
    await deliver(pool, app, sender)
    await spend_the_retries(pool)
    await deliver(pool, app, sender)
    [spent] = await deliveries(client, endpoint["id"])
    assert (spent["state"], spent["next_attempt_at"]) == ("failed", None)
    await pool.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '6 days'")
    await create(client, "later@example.com")
    await deliver(pool, app, sender)
    off = (await client.get(f"/v1/webhooks/{endpoint['id']}")).json()
    assert off["enabled"] is False and "5 days" in off["disabled_reason"]


async def test_recover_and_resend_deliver_again_what_was_missed(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    start = datetime.now(UTC) - timedelta(seconds=1)
    await create(client, "first@example.com")
    await create(client, "second@example.com")
    receiver.answers = [500, 204, 500]
    await deliver(pool, app, sender)  # first: 500, second: delivered
    await spend_the_retries(pool)
    await deliver(pool, app, sender)  # first: 500 again, and no retry is left
    states = sorted(d["state"] for d in await deliveries(client, endpoint["id"]))
    assert states == ["delivered", "failed"]
    r = await client.post(
        f"/v1/webhooks/{endpoint['id']}/recover", params={"since": start.isoformat()}
    )
    assert (r.status_code, r.json()) == (202, {"queued": 1})
    await deliver(pool, app, sender)
    first = (await client.get("/v1/events")).json()["events"][0]["id"]
    r = await client.post(f"/v1/webhooks/{endpoint['id']}/resend", json={"event_id": first})
    assert r.status_code == 202, r.text
    await deliver(pool, app, sender)
    ids = [q.headers["webhook-id"] for q in receiver.requests]
    assert ids.count(first) >= 2 and len(set(ids)) == 2
    missing = await client.post(
        f"/v1/webhooks/{endpoint['id']}/resend", json={"event_id": "evt_424242"}
    )
    assert_problem(missing, 410, "event-not-kept")


async def test_a_rotated_secret_signs_beside_the_new_one(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    r = await client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret")
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"] != endpoint["secret"]
    until = datetime.fromisoformat(rotated["previous_secret_until"]) - datetime.now(UTC)
    assert timedelta(hours=23) < until <= timedelta(hours=24)
    await create(client, "rotate@example.com")
    await deliver(pool, app, sender)
    [got] = receiver.requests
    for secret in (endpoint["secret"], rotated["secret"]):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "lead.created"
    await pool.execute(
        "UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second'"
    )
    await create(client, "rotated@example.com")
    await deliver(pool, app, sender)
    later = receiver.requests[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(rotated["secret"]).verify(later.body, later.headers)


async def test_two_processes_delivering_at_once_never_send_one_attempt_twice(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    await subscribe(client, receiver.url)
    for i in range(60):
        await create(client, f"race{i}@example.com")
    rounds = await asyncio.gather(*(deliver(pool, app, sender) for _ in range(4)))
    while sum(r.sent for r in rounds) < 60:
        more = await asyncio.gather(*(deliver(pool, app, sender) for _ in range(2)))
        assert any(r.sent for r in more)
        rounds.extend(more)
    ids = [q.headers["webhook-id"] for q in receiver.requests]
    assert len(ids) == 60 == len(set(ids))
    assert sum(r.queued for r in rounds) == 60


async def test_the_deliveries_of_an_unknown_endpoint_are_404(client: httpx.AsyncClient) -> None:
    for call in (
        client.get("/v1/webhooks/99/deliveries"),
        client.post("/v1/webhooks/99/recover", params={"since": "2026-01-01T00:00:00Z"}),
        client.post("/v1/webhooks/99/resend", json={"event_id": "evt_1"}),
        client.post("/v1/webhooks/99/rotate-secret"),
        client.patch("/v1/webhooks/99", json={"enabled": True}),
    ):
        assert_problem(await call, 404, "webhook-not-found")


async def test_settled_deliveries_past_the_retention_are_pruned_and_pending_ones_kept(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    receiver.answers = [204, 500, 204]
    for i in range(3):
        await create(client, f"old{i}@example.com")
    await deliver(pool, app, sender)
    await pool.execute("UPDATE webhook_deliveries SET created_at = now() - interval '31 days'")
    await create(client, "recent@example.com")
    await deliver(pool, app, sender)
    now = datetime.now(UTC)
    assert await prune_deliveries(pool, older_than=timedelta(days=30), now=now) == 2
    left = await deliveries(client, endpoint["id"])
    assert sorted(d["state"] for d in left) == ["delivered", "pending"]
    assert await pool.fetchval("SELECT count(*) FROM webhook_attempts") == 2


async def test_a_lead_whose_event_is_not_taken_keeps_the_rest_of_its_events_waiting_in_order(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    receiver.answers = [500]
    lead = await create(client, "in-order@example.com")
    assert (await move(client, lead["id"], "contacted", "call_connected")).status_code == 200
    assert (await move(client, lead["id"], "qualified", "need_confirmed")).status_code == 200
    assert (await deliver(pool, app, sender)).sent == 1
    waiting = await deliveries(client, endpoint["id"])
    [first] = [d for d in waiting if d["attempts"] == 1]
    assert sorted(d["attempts"] for d in waiting) == [0, 0, 1]
    assert {d["next_attempt_at"] for d in waiting} == {first["next_attempt_at"]}
    assert (await deliver(pool, app, sender)).sent == 0  # the rest wait for the first's retry
    await make_due(pool)
    assert (await deliver(pool, app, sender)).delivered == 3
    sequences = [orjson.loads(q.body)["sequence"] for q in receiver.requests]
    assert sequences == [1, 1, 2, 3]


async def test_an_endpoint_that_gives_no_answer_is_sent_nothing_more_that_round(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    receiver.delay_s = 1.5  # past the sender's 1 s limit
    leads = SENDING_AT_ONCE + 4
    for i in range(leads):
        await create(client, f"no-answer{i}@example.com")
    done = await deliver(pool, app, sender)
    # The first attempts, made at once, each waited out the limit; the rest were given back.
    assert done.sent == SENDING_AT_ONCE
    rows = await deliveries(client, endpoint["id"])
    assert sorted(d["attempts"] for d in rows) == [0] * 4 + [1] * SENDING_AT_ONCE
    assert all(d["state"] == "pending" for d in rows)
    receiver.delay_s = 0
    await make_due(pool)
    assert (await deliver(pool, app, sender)).delivered == leads


async def test_an_attempt_whose_claim_was_taken_over_leaves_the_newer_outcome_standing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, app: FastAPI, receiver: Receiver, sender: Sender
) -> None:
    endpoint = await subscribe(client, receiver.url)
    receiver.answers = [500]
    await create(client, "taken-over@example.com")
    await deliver(pool, app, sender)
    await make_due(pool)
    async with pool.acquire() as conn:
        repo = DeliveryRepository(conn)
        [slow] = await repo.claim(10, LEASE)  # a process whose round outlives the lease
        await conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
        [fast] = await repo.claim(10, LEASE)  # another process takes the delivery over
        assert (slow["attempts"], fast["attempts"]) == (2, 3)
        late_at = datetime.now(UTC) + RETRY_DELAYS[1]
        await repo.record(
            [Attempted(fast["id"], fast["attempts"], 204, 3, None, DeliveryState.DELIVERED, None)]
        )
        await repo.record(
            [
                Attempted(
                    slow["id"], slow["attempts"], None, 10, "late", DeliveryState.PENDING, late_at
                )
            ]
        )
    [done] = await deliveries(client, endpoint["id"])
    assert (done["state"], done["attempts"], done["last_status"]) == ("delivered", 3, 204)
    assert [t["status"] for t in done["tries"]] == [500, 204, None]  # every attempt is kept
