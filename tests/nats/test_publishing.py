"""The events log published to a real nats-server with JetStream: every event on its subject,
in the log's order, with its id as `Nats-Msg-Id` and the JSON `GET /v1/events` serves; repeats
after a crash dropped by the stream; nothing lost while NATS is away."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import httpx
import pytest
from nats.js import JetStreamContext

from app.events.repository import EventRepository
from app.platform.settings import Settings
from app.publishing.repository import CursorRepository
from app.publishing.service import BATCH, as_message, publish_round
from tests.example_pipelines import ENTERPRISE_DOCUMENT
from tests.http_support import create, move
from tests.nats.conftest import (
    STREAM,
    eventually,
    jetstream,
    publishing,
    reading,
    stored,
    stream_count,
)
from tests.nats.nats_server import NatsServer

pytestmark = pytest.mark.nats


async def logged(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/events", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["events"]
    return events


async def two_pipelines_of_changes(client: httpx.AsyncClient) -> None:
    """A pipeline defined, and in each pipeline a lead created and moved."""
    r = await client.put("/v1/pipelines/enterprise", json=ENTERPRISE_DOCUMENT)
    assert r.status_code == 201, r.text
    ours = await create(client, "default@example.com")
    theirs = await create(client, "enterprise@example.com", pipeline="enterprise")
    assert (await move(client, ours["id"], "contacted", "call_connected")).status_code == 200
    assert (await move(client, theirs["id"], "discovery", "call_held")).status_code == 200
    assert (await move(client, ours["id"], "qualified", "budget_confirmed")).status_code == 200


def subjects_and_ids(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"leadstatus.{e['pipeline']}.{e['type']}", e["id"]) for e in events]


async def test_each_event_reaches_its_subject_in_the_logs_order_as_the_log_serves_it(
    client: httpx.AsyncClient, publisher: asyncio.Task[None], js: JetStreamContext
) -> None:
    await two_pipelines_of_changes(client)
    events = await logged(client)
    assert [e["type"] for e in events].count("lead.status_changed") == 3

    assert await eventually(lambda: stream_count(js), len(events)) == len(events)
    messages = await stored(js)
    assert [(s, i) for s, i, _ in messages] == subjects_and_ids(events)
    assert {s for s, _, _ in messages} == {
        "leadstatus.enterprise.pipeline.changed",
        "leadstatus.default.lead.created",
        "leadstatus.enterprise.lead.created",
        "leadstatus.default.lead.status_changed",
        "leadstatus.enterprise.lead.status_changed",
    }
    assert [body for _, _, body in messages] == events


async def test_a_consumer_takes_one_pipeline_or_one_type_by_its_subject_filter(
    client: httpx.AsyncClient, publisher: asyncio.Task[None], js: JetStreamContext
) -> None:
    await two_pipelines_of_changes(client)
    events = await logged(client)
    assert await eventually(lambda: stream_count(js), len(events)) == len(events)

    async def consume(subject: str, durable: str, count: int) -> list[tuple[str, str]]:
        subscription = await js.pull_subscribe(subject, durable=durable, stream=STREAM)
        taken: list[tuple[str, str]] = []
        while len(taken) < count:
            for msg in await subscription.fetch(batch=count - len(taken), timeout=5):
                await msg.ack()
                assert msg.headers is not None
                taken.append((msg.subject, msg.headers["Nats-Msg-Id"]))
        return taken

    enterprise = await logged(client, pipeline="enterprise")
    changes = await logged(client, type="lead.status_changed")
    assert len(enterprise) == 3 and len(changes) == 3
    assert await consume("leadstatus.enterprise.>", "enterprise", 3) == subjects_and_ids(enterprise)
    assert await consume("leadstatus.*.lead.status_changed", "changes", 3) == subjects_and_ids(
        changes
    )
    info = await js.consumer_info(STREAM, "changes")
    assert info.num_pending == 0  # nothing else matched the filter


async def test_a_new_stream_starts_at_the_logs_end_unless_told_to_start_from_the_oldest(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    database_url: str,
    nats_settings: Settings,
    js: JetStreamContext,
) -> None:
    for i in range(3):
        await create(client, f"earlier{i}@example.com")
    async with publishing(database_url, nats_settings, pool):
        await create(client, "later@example.com")
        assert await eventually(lambda: stream_count(js), 1) == 1
    assert [i for _, i, _ in await stored(js)] == ["evt_4"]

    async with publishing(database_url, nats_settings, pool, from_start=True):
        assert await eventually(lambda: stream_count(js), 4) == 4
    # evt_4 came again within the duplicate window and was dropped.
    assert [i for _, i, _ in await stored(js)] == ["evt_4", "evt_1", "evt_2", "evt_3"]


async def test_a_batch_repeated_after_a_crash_is_kept_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, nats_settings: Settings, js: JetStreamContext
) -> None:
    """A round that published part of its batch and died before moving the cursor: the next
    round publishes the whole batch again, and the stream keeps each event once."""
    async with pool.acquire() as conn:
        await CursorRepository(conn).start(STREAM)
    for i in range(12):
        await create(client, f"crash{i}@example.com")
    stream = jetstream(nats_settings)
    try:
        async with pool.acquire() as conn:
            position = await CursorRepository(conn).position(STREAM)
            assert position is not None
            batch = await EventRepository(conn).settled_after(*position, BATCH)
        assert len(batch) == 12
        # What the crashed round got out before it died: the first 7, never acknowledged to
        # the database.
        assert await stream.publish([as_message("leadstatus", row) for row in batch[:7]]) == 0
        assert await stream_count(js) == 7

        assert await publish_round(pool, stream) == 12
    finally:
        await stream.close()
    info = await js.stream_info(STREAM)
    assert (info.state.messages, info.state.last_seq) == (12, 12)
    assert [i for _, i, _ in await stored(js)] == [e["id"] for e in await logged(client)]
    async with pool.acquire() as conn:
        position = await CursorRepository(conn).position(STREAM)
    assert position is not None and position[1] == batch[-1]["id"]


async def test_one_process_at_a_time_publishes_a_stream(
    client: httpx.AsyncClient, pool: asyncpg.Pool, nats_settings: Settings, js: JetStreamContext
) -> None:
    async with pool.acquire() as conn:
        await CursorRepository(conn).start(STREAM)
    await create(client, "held@example.com")
    stream = jetstream(nats_settings)
    try:
        async with pool.acquire() as holder, holder.transaction():
            assert await CursorRepository(holder).take(STREAM)
            assert await publish_round(pool, stream) == 0  # another one holds it
        assert await publish_round(pool, stream) == 1
    finally:
        await stream.close()
    assert await stream_count(js) == 1


async def test_nothing_is_missed_while_nats_is_away_and_the_outage_is_said_once(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    database_url: str,
    nats_settings: Settings,
    nats_server: NatsServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="leadstatus.publishing")
    async with publishing(database_url, nats_settings, pool):
        await create(client, "before@example.com")
        async with reading(nats_server) as js:
            assert await eventually(lambda: stream_count(js), 1) == 1
        nats_server.stop()
        for i in range(5):
            await create(client, f"away{i}@example.com")
        await asyncio.sleep(2)  # tried, failed, tried again
        nats_server.start()
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM events") == 6

        async with reading(nats_server) as again:  # the first client gave up on the old server
            assert await eventually(lambda: stream_count(again), 6) == 6
            ids = [i for _, i, _ in await stored(again)]
    assert ids == [e["id"] for e in await logged(client)]
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    failed = [m for level, m in said if level == "WARNING"]
    assert len(failed) == 1, said
    assert failed[0].startswith(f"publishing events to NATS stream {STREAM} failed (")
    assert any(m.startswith(f"publishing events to NATS stream {STREAM} again") for _, m in said)
