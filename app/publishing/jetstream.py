"""The NATS side: one connection, the stream made when it is absent, and batches published with
every acknowledgement awaited.

nats-py is an optional extra (`pip install 'leadstatus[nats]'`): only this module imports it, and
only a process with LEADSTATUS_NATS_URL set imports this module. The client's own reconnecting is
off: a connection that failed is dropped whole and opened again on the next try, so there is one
way back after an outage, the publisher's pause between tries, and no message waits in a buffer
for a connection that may never come back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from app.publishing.domain import MESSAGE_ID, Message, stream_subjects

DUPLICATE_WINDOW_S = 120.0
"""How long the stream remembers a message id: a repeat within it is dropped. A publisher
repeats a batch within seconds of the first try, unless NATS itself was down longer."""
ACK_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0


class NotAcknowledged(Exception):
    """The stream did not acknowledge a batch in time."""


async def _said_by_the_publisher(error: Exception) -> None:
    """The client would log every failure with its trace; the publisher says it once."""


class JetStream:
    """A stream the events go to, on the servers of `servers`."""

    def __init__(self, servers: Sequence[str], name: str, prefix: str) -> None:
        self.servers = list(servers)
        self.name = name
        self.prefix = prefix
        self._client: Client | None = None
        self._context: JetStreamContext | None = None

    async def _connected(self) -> JetStreamContext:
        if self._client is None or self._context is None or not self._client.is_connected:
            await self.close()
            self._client = await nats.connect(
                self.servers,
                name="leadstatus-publisher",
                allow_reconnect=False,
                # Even a first connection is tried again and again (every 2 s, for 2 minutes)
                # unless told: once more at once, then give up, and the publisher says so.
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                connect_timeout=CONNECT_TIMEOUT_S,
                error_cb=_said_by_the_publisher,
            )
            self._context = self._client.jetstream(timeout=ACK_TIMEOUT_S)
            await self._ensure_stream(self._context)
        return self._context

    async def _ensure_stream(self, context: JetStreamContext) -> None:
        try:
            await context.stream_info(self.name)
        except NotFoundError:
            await context.add_stream(
                name=self.name,
                subjects=stream_subjects(self.prefix),
                duplicate_window=DUPLICATE_WINDOW_S,
            )

    async def publish(self, messages: Sequence[Message]) -> int:
        """Publish `messages` in order and wait until the stream acknowledged every one; how
        many it had already (repeats it dropped). On any failure the connection is dropped."""
        acks: list[asyncio.Future[api.PubAck]] = []
        try:
            context = await self._connected()
            for m in messages:
                acks.append(
                    await context.publish_async(
                        m.subject, m.body, stream=self.name, headers={MESSAGE_ID: m.message_id}
                    )
                )
            try:
                answers = await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_S)
            except TimeoutError:
                raise NotAcknowledged(
                    f"{len(acks)} messages not acknowledged within {ACK_TIMEOUT_S:g} s"
                ) from None
        except BaseException:
            for ack in acks:
                ack.cancel()  # frees its place among the client's pending acknowledgements
            await self.close()
            raise
        return sum(bool(a.duplicate) for a in answers)

    async def close(self) -> None:
        client, self._client, self._context = self._client, None, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), CONNECT_TIMEOUT_S)


def describe(error: BaseException) -> str:
    """A failure in one line: its class, and NATS's own words (which name no host)."""
    said = str(error) if isinstance(error, nats.errors.Error | NotAcknowledged) else ""
    return f"{type(error).__name__}: {said}" if said else type(error).__name__
