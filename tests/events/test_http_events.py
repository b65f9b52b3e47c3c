"""`GET /v1/events`: every change as an event, in order, read on from `next` without a miss."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from app.events.service import announce_revisits, announce_stale
from app.pipelines.default import DEFAULT_DOCUMENT
from tests.http_support import assert_problem, create, move


async def read(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/v1/events", params=params)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def events(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    page = await read(client, **params)
    found: list[dict[str, Any]] = page["events"]
    return found


async def test_a_new_lead_is_announced_as_the_api_answers_it(client: httpx.AsyncClient) -> None:
    lead = await create(client, "ana@example.com", owner="rep1", estimated_value="1200.50")
    [event] = await events(client)
    assert event["type"] == "lead.created"
    assert event["id"].startswith("evt_")
    assert (event["lead_id"], event["sequence"], event["pipeline"]) == (lead["id"], 1, "default")
    assert event["data"] == {"lead": lead}


async def test_a_status_change_carries_the_change_and_the_lead_after_it(
    client: httpx.AsyncClient,
) -> None:
    lead = await create(client, "bo@example.com", owner="rep2", source="web")
    r = await move(client, lead["id"], "qualified", "need_confirmed", note="budget approved")
    assert r.status_code == 200, r.text
    after = r.json()
    [history] = (await client.get(f"/v1/leads/{lead['id']}/history")).json()
    created, changed = await events(client)
    assert created["type"] == "lead.created"
    assert changed["type"] == "lead.status_changed"
    assert changed["sequence"] == after["version"] == 2
    data = changed["data"]
    assert data["lead"] == after
    assert data["change_id"] == history["id"]
    for name, value in history.items():
        if name in ("at", "revisit_at") and value is not None:
            assert datetime.fromisoformat(data[name]) == datetime.fromisoformat(value)
        elif name == "pipeline":
            assert changed["pipeline"] == value
        elif name != "id":
            assert data[name] == value, name
    assert (data["from"], data["to"], data["reason"], data["reopened"]) == (
        "new",
        "qualified",
        "need_confirmed",
        False,
    )
    assert (data["from_outcome"], data["to_outcome"], data["note"]) == (
        "open",
        "open",
        "budget approved",
    )


async def test_a_reopening_is_a_status_change_that_says_so(client: httpx.AsyncClient) -> None:
    lead = await create(client, "cy@example.com")
    assert (await move(client, lead["id"], "qualified", "need_confirmed")).status_code == 200
    lost = await move(client, lead["id"], "lost", "competitor", competitor="Acme")
    assert lost.status_code == 200, lost.text
    r = await client.post(
        f"/v1/leads/{lead['id']}/reopen", json={"to": "qualified", "reason": "budget_approved"}
    )
    assert r.status_code == 200, r.text
    changes = await events(client, type="lead.status_changed")
    assert [(e["data"]["to"], e["data"]["reopened"]) for e in changes] == [
        ("qualified", False),
        ("lost", False),
        ("qualified", True),
    ]
    assert changes[1]["data"]["competitor"] == "Acme"
    assert changes[1]["data"]["to_outcome"] == "lost"
    assert changes[-1]["data"]["lead"]["reopen_count"] == 1


async def test_an_edit_names_what_changed_and_what_it_was(client: httpx.AsyncClient) -> None:
    lead = await create(client, "di@example.com", owner="rep1", company="Old Co")
    r = await client.patch(
        f"/v1/leads/{lead['id']}", json={"owner": "rep9", "company": "New Co", "title": None}
    )
    assert r.status_code == 200, r.text
    [updated] = await events(client, type="lead.updated")
    assert updated["sequence"] == 2
    assert updated["data"]["changed"] == ["company", "owner"]
    assert updated["data"]["previous"] == {"company": "Old Co", "owner": "rep1"}
    assert updated["data"]["lead"] == r.json()


async def test_every_version_of_a_lead_has_exactly_one_event(client: httpx.AsyncClient) -> None:
    lead = await create(client, "ed@example.com")
    lead_id = lead["id"]
    assert (await move(client, lead_id, "contacted", "call_connected")).status_code == 200
    assert (await client.patch(f"/v1/leads/{lead_id}", json={"phone": "+1 555"})).status_code == 200
    assert (await move(client, lead_id, "qualified", "need_confirmed")).status_code == 200
    assert (await client.patch(f"/v1/leads/{lead_id}", json={})).status_code in (200, 422)
    refused = await move(client, lead_id, "won", "not_a_reason")
    assert refused.status_code in (409, 422)
    version = (await client.get(f"/v1/leads/{lead_id}")).json()["version"]
    mine = await events(client, lead_id=lead_id)
    assert [e["sequence"] for e in mine] == list(range(1, version + 1))


async def test_the_log_reads_on_from_next_without_a_miss_or_a_repeat(
    client: httpx.AsyncClient,
) -> None:
    for i in range(5):
        await create(client, f"p{i}@example.com")
    first = await read(client, limit=2)
    assert len(first["events"]) == 2 and first["more"] is True
    second = await read(client, limit=2, after=first["next"])
    third = await read(client, limit=2, after=second["next"])
    assert len(third["events"]) == 1 and third["more"] is False
    seen = [e["id"] for page in (first, second, third) for e in page["events"]]
    assert seen == [e["id"] for e in await events(client)]
    assert len(set(seen)) == 5
    idle = await read(client, after=third["next"])
    assert idle == {"events": [], "next": third["next"], "more": False}


async def test_an_empty_log_has_no_next(client: httpx.AsyncClient) -> None:
    assert await read(client) == {"events": [], "next": None, "more": False}


async def test_filters_by_type_lead_and_pipeline(client: httpx.AsyncClient) -> None:
    a = await create(client, "fa@example.com")
    b = await create(client, "fb@example.com")
    assert (await move(client, b["id"], "contacted", "call_connected")).status_code == 200
    assert [e["lead_id"] for e in await events(client, lead_id=a["id"])] == [a["id"]]
    assert [e["type"] for e in await events(client, type="lead.status_changed")] == [
        "lead.status_changed"
    ]
    both = await events(client, type=["lead.created", "lead.status_changed"], lead_id=b["id"])
    assert [e["type"] for e in both] == ["lead.created", "lead.status_changed"]
    assert len(await events(client, pipeline="default")) == 3
    assert await events(client, pipeline="partners") == []


async def test_an_after_the_log_does_not_keep_is_410_and_says_what_to_do(
    client: httpx.AsyncClient,
) -> None:
    await create(client, "ga@example.com")
    for after in ("evt_999999", "evt_0", "evt_99999999999999999999"):
        r = await client.get("/v1/events", params={"after": after})
        body = assert_problem(r, 410, "event-not-kept")
        assert body["after"] == after
        assert "omit `after`" in body["detail"]


async def test_an_unknown_type_is_a_validation_error(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/events", params={"type": "lead.deleted"})
    assert_problem(r, 422, "request-validation-failed")


async def test_a_revisit_that_comes_due_is_announced_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead = await create(client, "nurture@example.com")
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = await move(client, lead["id"], "recycled", "not_ready", revisit_at=later)
    assert r.status_code == 200, r.text
    open_lead = await create(client, "open@example.com")
    now = datetime.now(UTC)
    await pool.execute(
        "UPDATE events_marks SET at = $1 WHERE name = 'revisit_due'", now - timedelta(hours=1)
    )
    await pool.execute(
        "UPDATE leads SET revisit_at = $2 WHERE id = ANY($1::bigint[])",
        [lead["id"], open_lead["id"]],
        now - timedelta(minutes=5),
    )
    assert await announce_revisits(pool, now=now) == 1
    assert await announce_revisits(pool, now=now + timedelta(seconds=1)) == 0
    [due] = await events(client, type="lead.revisit_due")
    assert (due["lead_id"], due["sequence"]) == (lead["id"], r.json()["version"])
    assert datetime.fromisoformat(due["data"]["revisit_at"]) == now - timedelta(minutes=5)
    assert due["data"]["lead"]["status"] == "recycled"


async def test_a_lead_that_goes_stale_is_announced_once_per_stay(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    document = copy.deepcopy(DEFAULT_DOCUMENT)
    for status in document["statuses"]:
        if status["key"] == "contacted":
            status["stale_after_days"] = 10
    assert (await client.put("/v1/pipelines/default", json=document)).status_code == 200
    rotting = await create(client, "rotting@example.com")
    moved = await move(client, rotting["id"], "contacted", "call_connected")
    long_stale = await create(client, "long.stale@example.com")
    assert (await move(client, long_stale["id"], "contacted", "call_connected")).status_code == 200
    now = datetime.now(UTC)
    await pool.execute("DELETE FROM events_marks WHERE name = 'lead_stale'")
    assert await announce_stale(pool, now=now) == 0  # the count starts here
    since = now - timedelta(days=10) + timedelta(hours=1)
    await pool.execute("UPDATE leads SET status_since = $2 WHERE id = $1", rotting["id"], since)
    await pool.execute(
        "UPDATE leads SET status_since = $2 WHERE id = $1",
        long_stale["id"],
        now - timedelta(days=30),
    )
    assert await announce_stale(pool, now=now + timedelta(minutes=30)) == 0
    assert await announce_stale(pool, now=now + timedelta(hours=2)) == 1
    assert await announce_stale(pool, now=now + timedelta(hours=3)) == 0
    [stale] = await events(client, type="lead.stale")
    assert (stale["lead_id"], stale["sequence"]) == (rotting["id"], moved.json()["version"])
    data = stale["data"]
    assert (data["status"], data["stale_after_days"]) == ("contacted", 10)
    assert datetime.fromisoformat(data["status_since"]) == since
    assert datetime.fromisoformat(data["stale_at"]) == since + timedelta(days=10)
    assert data["lead"]["id"] == rotting["id"]
