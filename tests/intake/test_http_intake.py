"""Marketing-tool deliveries over HTTP, signed for real, against the real database.

Standard Webhooks deliveries are signed by the `standardwebhooks` package (the reference
sender); HubSpot's by the v3 scheme checked against HubSpot's vector in
`test_domain_intake_signatures.py`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from app.intake.secrets import keeper_for
from app.intake.service import prune_deliveries
from app.intake.signatures import hubspot_signature
from app.intake.sources import rotate_secret
from tests.example_pipelines import ENTERPRISE_DOCUMENT
from tests.http_support import assert_problem, configure, create, move

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BASE = "http://leadstatus.test"

Sender = Callable[..., Awaitable[httpx.Response]]


def _standard(
    client: httpx.AsyncClient, secret: str, name: str = "forms"
) -> Callable[..., Awaitable[httpx.Response]]:
    async def send(
        payload: Any, *, msg_id: str = "msg_1", at: datetime | None = None, raw: bytes | None = None
    ) -> httpx.Response:
        body = raw if raw is not None else orjson.dumps(payload)
        at = at or datetime.now(UTC)
        headers = {
            "content-type": JSON,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        }
        return await client.post(f"/v1/intake/{name}", content=body, headers=headers)

    return send


def _hubspot(client: httpx.AsyncClient, secret: str, name: str = "hs") -> Sender:
    async def send(payload: Any, *, at: datetime | None = None) -> httpx.Response:
        body = orjson.dumps(payload)
        stamp = str(int((at or datetime.now(UTC)).timestamp() * 1000))
        uri = f"{BASE}/v1/intake/{name}"
        headers = {
            "content-type": JSON,
            "x-hubspot-request-timestamp": stamp,
            "x-hubspot-signature-v3": hubspot_signature(secret, "POST", uri, body, stamp),
        }
        return await client.post(f"/v1/intake/{name}", content=body, headers=headers)

    return send


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM leads) AS leads,"
        " (SELECT count(*) FROM intake_deliveries) AS deliveries,"
        " (SELECT count(*) FROM lead_touches) AS touches,"
        " (SELECT count(*) FROM lead_status_changes) AS changes"
    )
    return (row["leads"], row["deliveries"], row["touches"], row["changes"])


async def test_standard_delivery_creates_a_lead_once_and_a_redelivery_changes_nothing(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    secret = await configure(app, pool, "forms", "standard", default_owner="alex")
    send = _standard(client, secret)
    payload = {
        "type": "lead.created",
        "data": {"email": " Dana@Northwind.example", "company": "NW"},
    }
    first = await send(payload)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["outcome"] == "created" and answer["event_id"] == "msg_1"
    lead = (await client.get(f"/v1/leads/{answer['lead_id']}")).json()
    assert (lead["email"], lead["company"], lead["owner"], lead["source"]) == (
        "dana@northwind.example",
        "NW",
        "alex",
        "forms",
    )
    again = await send(payload)
    assert (again.status_code, again.json()) == (200, answer)
    assert await counts(pool) == (1, 1, 0, 0)
    stored = await pool.fetchval("SELECT body FROM intake_deliveries")
    assert orjson.loads(stored) == payload


async def test_twenty_simultaneous_deliveries_of_one_event_create_one_lead(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    send = _standard(client, await configure(app, pool, "forms", "standard"))
    payload = {"data": {"email": "rush@example.com"}}
    answers = await asyncio.gather(*(send(payload, msg_id="msg_same") for _ in range(20)))
    assert {r.status_code for r in answers} == {200}
    assert len({orjson.dumps(r.json()) for r in answers}) == 1
    assert await counts(pool) == (1, 1, 0, 0)


async def test_simultaneous_different_events_for_one_new_person_make_one_lead_and_touches(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    send = _standard(client, await configure(app, pool, "forms", "standard"))
    payload = {"data": {"email": "twice@example.com"}}
    answers = await asyncio.gather(*(send(payload, msg_id=f"msg_{i}") for i in range(8)))
    outcomes = sorted(r.json()["outcome"] for r in answers)
    assert outcomes == ["created"] + ["touched"] * 7
    assert len({r.json()["lead_id"] for r in answers}) == 1
    assert await counts(pool) == (1, 8, 7, 0)


async def test_a_person_with_a_lead_is_never_duplicated(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    send = _standard(client, await configure(app, pool, "forms", "standard"))
    open_lead = await create(client, "open@example.com")
    lost = await create(client, "lost@example.com")
    assert (await move(client, lost["id"], "contacted", "call_connected")).status_code == 200
    assert (await move(client, lost["id"], "qualified", "need_confirmed")).status_code == 200
    r = await move(client, lost["id"], "lost", "price")
    assert r.status_code == 200, r.text
    won = await create(client, "won@example.com")
    await move(client, won["id"], "qualified", "need_confirmed")
    assert (await move(client, won["id"], "won", "contract_signed")).status_code == 200
    before = await counts(pool)

    touched = (await send({"data": {"email": "OPEN@example.com"}}, msg_id="a")).json()
    returning = (await send({"data": {"email": "lost@example.com"}}, msg_id="b")).json()
    linked = (await send({"data": {"email": "won@example.com"}}, msg_id="c")).json()

    assert (touched["outcome"], touched["lead_id"]) == ("touched", open_lead["id"])
    assert (returning["outcome"], returning["lead_id"]) == ("returning", lost["id"])
    assert linked["outcome"] == "linked" and linked["previous_lead_id"] == won["id"]
    new = (await client.get(f"/v1/leads/{linked['lead_id']}")).json()
    assert (new["status"], new["previous_lead_id"]) == ("new", won["id"])
    assert (await client.get(f"/v1/leads/{lost['id']}")).json()["status"] == "lost"
    # One new lead (the linked one), three deliveries, two touches, no status change.
    assert await counts(pool) == (before[0] + 1, 3, 2, before[3])


async def test_a_source_set_to_reopen_brings_a_lost_lead_back_through_the_workflow(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    send = _standard(client, await configure(app, pool, "forms", "standard", reopen_returning=True))
    lead = await create(client, "again@example.com")
    await move(client, lead["id"], "qualified", "need_confirmed")
    assert (await move(client, lead["id"], "lost", "price")).status_code == 200
    answer = (await send({"data": {"email": "again@example.com"}})).json()
    assert (answer["outcome"], answer["lead_id"]) == ("reopened", lead["id"])
    history = (await client.get(f"/v1/leads/{lead['id']}/history")).json()
    last = history[-1] if isinstance(history, list) else history["items"][-1]
    assert (last["to"], last["reason"], last["reopened"]) == ("qualified", "needs_changed", True)
    assert last["actor"] == "intake:forms"


async def test_a_source_feeds_the_pipeline_it_names_and_reopens_under_it(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    put = await client.put("/v1/pipelines/enterprise", json=ENTERPRISE_DOCUMENT)
    assert put.status_code == 201
    secret = await configure(
        app, pool, "forms", "standard", pipeline="enterprise", reopen_returning=True
    )
    send = _standard(client, secret)
    answer = (await send({"data": {"email": "ent@example.com"}})).json()
    lead = (await client.get(f"/v1/leads/{answer['lead_id']}")).json()
    assert (lead["pipeline"], lead["status"]) == ("enterprise", "lead_in")
    for to, reason in (("discovery", "call_held"), ("stalled", "went_quiet")):
        r = await client.post(
            f"/v1/leads/{lead['id']}/transitions", json={"to": to, "reason": reason}
        )
        assert r.status_code == 200, r.text
    again = (await send({"data": {"email": "ent@example.com"}}, msg_id="msg_2")).json()
    assert (again["outcome"], again["lead_id"]) == ("reopened", lead["id"])
    last = (await client.get(f"/v1/leads/{lead['id']}/history")).json()[-1]
    # `needs_changed` is no reason of this pipeline's: its first that needs nothing more is.
    assert (last["to"], last["reason"], last["reopened"]) == ("discovery", "budget_approved", True)


async def test_refusals_write_nothing_and_say_why(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    secret = await configure(app, pool, "forms", "standard")
    send = _standard(client, secret)
    other = _standard(client, "whsec_" + base64.b64encode(b"x" * 32).decode())
    ok = {"data": {"email": "ok@example.com"}}

    assert_problem(await other(ok), 401, "signature-refused")
    r = await send(ok, at=datetime.now(UTC) - timedelta(minutes=6))
    assert "five minutes" in assert_problem(r, 401, "signature-refused")["detail"]
    unsigned = await client.post("/v1/intake/forms", json=ok)
    assert_problem(unsigned, 401, "signature-refused")
    assert unsigned.headers["www-authenticate"].startswith("Signature")
    assert secret not in unsigned.text
    assert_problem(await send(None, raw=b"{oops"), 400, "malformed-body")
    missing = assert_problem(await send({"data": {"company": "X"}}), 422, "invalid-payload")
    assert missing["field"] == "email"
    bad = assert_problem(await send({"data": {"email": "not-an-address"}}), 422, "invalid-payload")
    assert bad["field"] == "email"
    assert_problem(await send(None, raw=b"x" * (256 * 1024 + 1)), 413, "payload-too-large")
    r = await client.post("/v1/intake/nobody", json=ok)
    assert_problem(r, 404, "intake-source-not-found")
    # Ids are bounded (they live in unique indexes): a 4xx the sender stops retrying, not a 500.
    long_id = assert_problem(await send(ok, msg_id="m" * 6000), 422, "invalid-payload")
    assert (long_id["field"], "255" in long_id["detail"]) == ("webhook-id", True)
    long_external = {"data": {"email": "ok@example.com", "external_id": "c" * 10_000}}
    assert assert_problem(await send(long_external), 422, "invalid-payload")["field"] == (
        "external_id"
    )
    assert await counts(pool) == (0, 0, 0, 0)


async def test_wrong_content_type_is_415(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    secret = await configure(app, pool, "mkto", "marketo")
    r = await client.post(
        "/v1/intake/mkto",
        content=b"email=a@b.example",
        headers={"content-type": FORM, "x-webhook-secret": secret},
    )
    assert_problem(r, 415, "unsupported-media-type")
    assert await counts(pool) == (0, 0, 0, 0)


async def test_hubspot_contact_and_batched_thin_events(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    send = _hubspot(client, await configure(app, pool, "hs", "hubspot", "hubspot-app-secret-01"))
    events = [{"eventId": 501, "subscriptionType": "contact.creation", "objectId": 3851}]
    thin = await send(events)
    assert thin.status_code == 200, thin.text
    (event,) = thin.json()["events"]
    assert (event["outcome"], event["lead_id"]) == ("awaiting_email", None)
    assert (await send(events)).json() == thin.json()

    contact = {
        "vid": 3851,
        "properties": {"email": {"value": "hs@example.com"}, "firstname": {"value": "Hu"}},
    }
    created = (await send(contact)).json()
    assert created["outcome"] == "created"
    lead = (await client.get(f"/v1/leads/{created['lead_id']}")).json()
    assert (lead["external_id"], lead["first_name"]) == ("3851", "Hu")
    # The thin event now points at the lead its contact became.
    assert (
        await pool.fetchval(
            "SELECT lead_id FROM intake_deliveries WHERE event_id = 'hubspot-event:501'"
        )
        == created["lead_id"]
    )
    old = await send(contact, at=datetime.now(UTC) - timedelta(minutes=10))
    assert_problem(old, 401, "signature-refused")


async def test_marketo_shared_secret_header(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    secret = await configure(app, pool, "mkto", "marketo", default_segment="smb")
    body = {"email": "m@example.com", "firstName": "", "company": "Acme"}
    r = await client.post("/v1/intake/mkto", json=body, headers={"x-webhook-secret": secret})
    assert r.status_code == 200, r.text
    lead = (await client.get(f"/v1/leads/{r.json()['lead_id']}")).json()
    assert (lead["first_name"], lead["company"], lead["segment"]) == (None, "Acme", "smb")
    wrong = await client.post("/v1/intake/mkto", json=body, headers={"x-webhook-secret": "nope"})
    assert_problem(wrong, 401, "signature-refused")
    stored = await pool.fetchval("SELECT secret FROM intake_sources WHERE name = 'mkto'")
    assert secret not in stored and stored.startswith("sha256:")


async def test_mailchimp_form_post_and_url_check(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    secret = await configure(app, pool, "mc", "mailchimp")
    check = await client.get("/v1/intake/mc", params={"secret": secret})
    assert (check.status_code, check.json()) == (200, {"source": "mc"})
    assert_problem(await client.get("/v1/intake/mc", params={"secret": "no"}), 401)
    form = urlencode(
        {"type": "subscribe", "data[merges][EMAIL]": "mc@example.com", "data[merges][FNAME]": "M"}
    )
    r = await client.post(
        f"/v1/intake/mc?secret={secret}", content=form, headers={"content-type": FORM}
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "created"


async def test_a_rotated_secret_keeps_working_for_a_while_beside_the_new_one(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    old = await configure(app, pool, "forms", "standard")
    new = await rotate_secret(
        pool, keeper_for(app.state.settings), "forms", None, now=datetime.now(UTC)
    )
    assert new != old
    for i, secret in enumerate((old, new)):
        r = await _standard(client, secret)({"data": {"email": f"r{i}@example.com"}}, msg_id=f"{i}")
        assert r.status_code == 200, r.text
    sealed = await pool.fetchrow("SELECT secret, previous_secret FROM intake_sources")
    assert old not in (sealed["secret"] + sealed["previous_secret"])
    assert new not in (sealed["secret"] + sealed["previous_secret"])


@pytest.mark.parametrize("kind", ["standard", "hubspot", "marketo", "mailchimp"])
async def test_every_kind_refuses_an_unsigned_delivery(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient, kind: str
) -> None:
    await configure(app, pool, "src", kind)
    content_type = FORM if kind == "mailchimp" else JSON
    r = await client.post(
        "/v1/intake/src", content=b"email=a", headers={"content-type": content_type}
    )
    assert_problem(r, 401, "signature-refused")
    assert await counts(pool) == (0, 0, 0, 0)


async def test_deliveries_past_retention_are_pruned_and_recent_ones_kept(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    send = _standard(client, await configure(app, pool, "forms", "standard"))
    for i in range(3):
        assert (await send({"data": {"email": f"p{i}@example.com"}}, msg_id=f"m{i}")).is_success
    await pool.execute(
        "UPDATE intake_deliveries SET received_at = now() - interval '31 days'"
        " WHERE event_id IN ('m0', 'm1')"
    )
    pruned = await prune_deliveries(pool, older_than=timedelta(days=30), now=datetime.now(UTC))
    assert pruned == 2
    assert await pool.fetchval("SELECT array_agg(event_id) FROM intake_deliveries") == ["m2"]
    assert await pool.fetchval("SELECT count(*) FROM leads") == 3


def _signed_by_kind(
    kind: str, secret: str, payload_email: str
) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) of a genuine delivery from a `kind` sender to source `src`."""
    url = "/v1/intake/src"
    if kind == "standard":
        body = orjson.dumps({"data": {"email": payload_email}})
        at = datetime.now(UTC)
        headers = {
            "content-type": JSON,
            "webhook-id": "evt-1",
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign("evt-1", at, body.decode()),
        }
    elif kind == "hubspot":
        body = orjson.dumps({"vid": 1, "properties": {"email": {"value": payload_email}}})
        stamp = str(int(datetime.now(UTC).timestamp() * 1000))
        signature = hubspot_signature(secret, "POST", f"{BASE}{url}", body, stamp)
        headers = {
            "content-type": JSON,
            "x-hubspot-request-timestamp": stamp,
            "x-hubspot-signature-v3": signature,
        }
    elif kind == "marketo":
        body = orjson.dumps({"email": payload_email})
        headers = {"content-type": JSON, "x-webhook-secret": secret}
    else:
        body = urlencode({"type": "subscribe", "data[merges][EMAIL]": payload_email}).encode()
        headers = {"content-type": FORM}
        url = f"{url}?secret={secret}"
    return url, body, headers


@pytest.mark.parametrize("kind", ["standard", "hubspot", "marketo", "mailchimp"])
async def test_every_kind_accepts_its_sender_once_and_refuses_tampering(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient, kind: str
) -> None:
    secret = await configure(app, pool, "src", kind)
    url, body, headers = _signed_by_kind(kind, secret, "kind@example.com")
    first = await client.post(url, content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "created"
    redelivered = await client.post(url, content=body, headers=headers)
    assert redelivered.content == first.content
    if kind in ("standard", "hubspot"):  # signed bodies: any change breaks the signature
        tampered = body.replace(b"kind@", b"evil@")
        assert_problem(await client.post(url, content=tampered, headers=headers), 401)
    else:  # shared secrets: a wrong one is refused
        _, _, wrong = _signed_by_kind(kind, secret[:-2] + "xx", "kind@example.com")
        wrong_url = url.replace(secret, secret[:-2] + "xx")
        assert_problem(await client.post(wrong_url, content=body, headers=wrong), 401)
    assert await counts(pool) == (1, 1, 0, 0)


async def test_a_refused_delivery_is_logged_without_any_secret(
    app: FastAPI,
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = await configure(app, pool, "mkto", "marketo")
    caplog.set_level("WARNING", logger="leadstatus.intake")
    almost = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    r = await client.post(
        "/v1/intake/mkto", json={"email": "x@example.com"}, headers={"x-webhook-secret": almost}
    )
    assert_problem(r, 401, "signature-refused")
    assert "mkto" in caplog.text and "does not match" in caplog.text
    assert secret not in caplog.text and almost not in caplog.text
