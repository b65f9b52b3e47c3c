"""The HTTP server's connections: how long a client may take to send its headers, and how many
connections a process holds at once.

uvicorn cuts a connection that idles between requests (keep-alive), but not one that connects
and sends nothing, nor one that sends its headers a byte at a time: each holds a socket and
memory for as long as the client likes, and enough of them exhaust the process. Its own
connection cap answers a plain-text 503. This protocol adds a header deadline from the moment a
request may begin, and a cap answered like every other refusal, as a problem.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.platform.http import problem_types as p
from app.platform.http.problems import problem_body
from app.platform.settings import get_settings


def _raw_problem(kind: p.ProblemType, detail: str, *, retry_after: str | None = None) -> bytes:
    """A whole HTTP/1.1 response carrying one problem, closing the connection."""
    body = orjson.dumps(problem_body(kind, detail))
    head = [
        f"HTTP/1.1 {kind.status} {kind.title}",
        "content-type: application/problem+json",
        f"content-length: {len(body)}",
        "connection: close",
        *([f"retry-after: {retry_after}"] if retry_after else []),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class BoundedConnections(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a connection cap (settings
    `header_timeout_s` and `max_connections`, read in each worker process)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout_s = settings.header_timeout_s
        self.max_connections = settings.max_connections
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(
                _raw_problem(
                    p.TOO_MANY_CONNECTIONS,
                    f"This process holds its limit of {self.max_connections} connections.",
                    retry_after="1",
                )
            )
            transport.close()
            return
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection has its own deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        self.transport.write(
            _raw_problem(
                p.HEADERS_TIMEOUT,
                f"The request's headers did not arrive within {self.header_timeout_s:g} s.",
            )
        )
        self.transport.close()
