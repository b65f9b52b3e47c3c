"""A real HTTP receiver on a loopback port, for deliveries to land on: it records every request
and answers what the test tells it to (a status, or a delay past the sender's time limit), or
misbehaves as receivers do (holds the request unanswered, closes the connection on it).

It speaks HTTP/1.1 itself (h11 over asyncio streams), keep-alive included, because the
misbehaviours are below what an ASGI app may do: an app cannot close the connection without
an answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

import h11

from tests.served import free_port

HOLD_AT_MOST_S = 60.0
"""A held request is let go after this even if the sender is still waiting."""


class Conduct(StrEnum):
    ANSWER = "answer"
    """Answer each request (the next of `answers`, else `status`) after `delay_s`."""
    HOLD = "hold"
    """Never answer: keep the request open until the sender gives up and hangs up."""
    CUT = "cut"
    """Read the request, then close the connection without a word."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    conduct: Conduct
    """How the receiver met the request."""
    answer: int | None = None
    """The status written back; None while held, and for good when none was."""
    hung_up: bool = False
    """A held request's sender gave up on it."""


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    """Statuses to answer, one per request, then `status`."""
    status: int = 204
    delay_s: float = 0.0
    conduct: Conduct = Conduct.ANSWER

    async def meet(self, request: Received, reader: asyncio.StreamReader) -> int | None:
        """What to answer `request` (None: nothing, and the connection closes)."""
        if request.conduct is Conduct.CUT:
            return None
        if request.conduct is Conduct.HOLD:
            with contextlib.suppress(TimeoutError):
                # The sender sends nothing more; the read ends when it closes the connection.
                await asyncio.wait_for(reader.read(), HOLD_AT_MOST_S)
                request.hung_up = True
            return None
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self.answers.pop(0) if self.answers else self.status

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while (read := await _read_request(conn, reader)) is not None:
                request = Received(*read, conduct=self.conduct)
                self.requests.append(request)
                status = await self.meet(request, reader)
                if status is None:
                    return
                headers = [("content-length", "0")] if status != 204 else []
                if 300 <= status < 400:
                    headers.append(("location", "http://127.0.0.1:9/elsewhere"))
                writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                request.answer = status
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError):
            pass  # the sender went away mid-request: what it sent so far is not a request
        finally:
            writer.close()


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[str, dict[str, str], bytes] | None:
    """The next whole request on the connection (path, headers, body); None when the sender
    closed it."""
    head: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {k.decode(): v.decode() for k, v in head.headers}
            return head.target.decode().split("?")[0], headers, body
        else:  # ConnectionClosed, or a PAUSED connection (which only a close follows)
            return None


@contextlib.asynccontextmanager
async def serving(port: int | None = None) -> AsyncIterator[Receiver]:
    """A receiver on `port` (a free one by default) for the block's duration."""
    port = port or free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}/hooks/leads")
    connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections[task] = writer
        try:
            await receiver.serve(reader, writer)
        finally:
            del connections[task]

    server = await asyncio.start_server(accepted, "127.0.0.1", port)
    try:
        yield receiver
    finally:
        server.close()
        # Ended by their connections' end, not cancelled: asyncio reports a cancelled one.
        for writer in connections.values():
            writer.transport.abort()
        await asyncio.gather(*connections)
        await server.wait_closed()
