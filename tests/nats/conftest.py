"""What the publishing tests share: a real nats-server of their own, settings that point at it,
a client to read the stream with, and the publisher running as the delivery process runs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext
from pydantic import SecretStr

from app.platform.settings import Settings
from app.publishing.jetstream import JetStream
from app.publishing.publisher import run_publisher, servers
from tests.nats.nats_server import NatsServer

STREAM = "LEADSTATUS_TEST"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_settings(settings: Settings, nats_server: NatsServer) -> Settings:
    return settings.model_copy(
        update={
            "nats_url": SecretStr(nats_server.url),
            "nats_stream": STREAM,
            "webhook_poll_interval_s": 0.2,
        }
    )


@contextlib.asynccontextmanager
async def reading(server: NatsServer) -> AsyncIterator[JetStreamContext]:
    """A client of the test's own, to read the stream with."""
    client = await nats.connect(server.url)
    try:
        yield client.jetstream()
    finally:
        await client.close()


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    async with reading(nats_server) as context:
        yield context


def jetstream(settings: Settings) -> JetStream:
    """The stream as the publisher sees it."""
    assert settings.nats_url is not None
    url = settings.nats_url.get_secret_value()
    return JetStream(servers(url), settings.nats_stream, settings.nats_subject_prefix)


@contextlib.asynccontextmanager
async def publishing(
    database_url: str, settings: Settings, pool: asyncpg.Pool, *, from_start: bool = False
) -> AsyncIterator[asyncio.Task[None]]:
    """`run_publisher` as `leadstatus deliver` runs it, from when its stream has a cursor."""
    task = asyncio.create_task(run_publisher(database_url, settings, from_start=from_start))
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM publishing_cursors"), 1)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def publisher(
    database_url: str, nats_settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[asyncio.Task[None]]:
    async with publishing(database_url, nats_settings, pool) as task:
        yield task


async def eventually(read: Callable[[], Awaitable[Any]], wanted: Any, within: float = 30) -> Any:
    """What `read()` gives once it gives `wanted`, or its last answer after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await read()
        if found == wanted or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def stream_count(js: JetStreamContext) -> int:
    try:
        info = await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        return 0
    return int(info.state.messages)


async def stored(js: JetStreamContext) -> list[tuple[str, str, dict[str, Any]]]:
    """Every message of the stream, in its order: subject, `Nats-Msg-Id`, the decoded body."""
    info = await js.stream_info(STREAM)
    messages = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await js.get_msg(STREAM, seq)
        assert raw.subject is not None and raw.headers is not None and raw.data is not None
        messages.append((raw.subject, raw.headers["Nats-Msg-Id"], json.loads(raw.data)))
    return messages
