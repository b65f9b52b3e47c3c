"""Connections to a served process: a client that connects and says nothing, or sends its
headers a byte at a time, is answered 408 and cut; idle kept-alive connections are closed; past
the cap a connection is answered 503; answers name no server and carry the browser headers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.served import ServedProcess

HEADER_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 1
MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[ServedProcess]:
    process = ServedProcess(
        database_url,
        LEADSTATUS_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        LEADSTATUS_KEEP_ALIVE_S=str(KEEP_ALIVE_S),
        LEADSTATUS_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    ).start()
    try:
        yield process
    finally:
        process.stop()


async def _open(served: ServedProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", served.port)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], dict[str, object]]:
    """The one answer the server sends before it closes the connection."""
    async with asyncio.timeout(HEADER_TIMEOUT_S * 5):
        raw = await reader.read()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, orjson.loads(body)


async def test_a_connection_that_sends_nothing_is_answered_408_and_cut(
    served: ServedProcess,
) -> None:
    reader, writer = await _open(served)
    started = time.monotonic()
    status, headers, body = await _answer(reader)
    assert time.monotonic() - started < HEADER_TIMEOUT_S * 3
    assert (status, headers["content-type"]) == (408, "application/problem+json")
    assert body["type"] == "/problems/headers-timeout"
    writer.close()


async def test_headers_sent_a_byte_at_a_time_are_cut_at_the_deadline(
    served: ServedProcess,
) -> None:
    """Each byte arriving does not move the deadline: it runs from the connection's start.
    (The trickle stops just short of it, so that no byte is sent to a closed socket.)"""
    reader, writer = await _open(served)
    started = time.monotonic()
    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100:
        if time.monotonic() - started > HEADER_TIMEOUT_S * 0.9:
            break
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)
    status, _, body = await _answer(reader)
    assert time.monotonic() - started < HEADER_TIMEOUT_S * 1.5
    assert status == 408 and body["type"] == "/problems/headers-timeout"
    writer.close()


async def test_an_idle_kept_alive_connection_is_closed(served: ServedProcess) -> None:
    reader, writer = await _open(served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    first = await reader.readuntil(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    async with asyncio.timeout(KEEP_ALIVE_S * 5):
        while await reader.read(4096):  # the body, then the close
            pass
    assert reader.at_eof()
    writer.close()


async def test_past_the_cap_a_connection_is_answered_503(served: ServedProcess) -> None:
    held = [await _open(served) for _ in range(MAX_CONNECTIONS)]
    try:
        reader, writer = await _open(served)
        status, headers, body = await _answer(reader)
        assert status == 503 and body["type"] == "/problems/too-many-connections"
        assert headers["retry-after"] == "1"
        writer.close()
    finally:
        for _, w in held:
            w.close()
    await asyncio.sleep(0.2)  # the held ones are gone: connections are served again
    async with httpx.AsyncClient(base_url=served.url) as client:
        assert (await client.get("/healthz")).status_code == 200


def test_answers_name_no_server_and_carry_the_browser_headers(
    served: ServedProcess, admin_key: str
) -> None:
    with httpx.Client(base_url=served.url, headers={"X-API-Key": admin_key}) as c:
        leads = c.get("/v1/leads")
        refused = c.get("/v1/leads", headers={"X-API-Key": "lsk_wrong"})
        docs, redoc, health = c.get("/docs"), c.get("/redoc"), c.get("/healthz")
    for answer in (leads, refused, docs, redoc, health):
        assert "server" not in answer.headers
        assert answer.headers["x-content-type-options"] == "nosniff"
    for answer in (leads, refused):
        assert answer.headers["cache-control"] == "no-store"
    for page in (docs, redoc):
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
