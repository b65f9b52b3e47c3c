"""One pure ASGI layer, outermost, that observes every request: its id, its time, its answer.

It gives each request an id (the client's `X-Request-ID` when it is sane, a new one otherwise)
and returns it on every answer, refusals by the layers inside included, with the default
headers of `response_headers`; when the answer is done,
it records the request metrics and writes the request's log line. One layer instead of three,
and no `BaseHTTPMiddleware` (which runs the app in a task of its own): the hot paths pay a timer,
a header and a counter.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform.http.response_headers import defaults_for, with_defaults
from app.platform.observability.logs import (
    REQUEST_ID,
    REQUEST_LOGGER,
    LineWriter,
    direct_line_writer,
)
from app.platform.observability.metrics import UNMATCHED, Instruments

log = logging.getLogger(REQUEST_LOGGER)

HEADER = b"x-request-id"
SANE_ID = re.compile(rb"[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?")
"""Printable ASCII, at most 128 characters, not starting or ending with a space: safe to echo in
a header and to write in a log line. Anything else is replaced, not refused."""


_VERSION_4 = (~(0xF << 76), 0x4 << 76)
_RFC_4122 = (~(0x3 << 62), 0x2 << 62)


def new_request_id() -> bytes:
    """A random (version 4) UUID in hex. An id must be unique, not secret: Python's generator
    (seeded from the system's, and again in each forked worker) gives one without the system
    call `os.urandom` makes per request, a few per cent of a create's CPU."""
    value = random.getrandbits(128)
    value = (value & _VERSION_4[0]) | _VERSION_4[1]
    value = (value & _RFC_4122[0]) | _RFC_4122[1]
    return b"%032x" % value


def request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The client's id when it sent a sane one, else a new one."""
    for name, value in headers:
        if name == HEADER:
            if SANE_ID.fullmatch(value):
                return value
            break
    return new_request_id()


def route_template(scope: Scope) -> str:
    """The path template of the route that served the request, e.g. `/v1/leads/{lead_id}`.

    The router leaves the route in the scope. A request refused before routing (a body too
    large) has none; it is matched here, off the hot path.
    """
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        routes: list[Any] = getattr(getattr(app, "router", None), "routes", [])
        route = next((r for r in routes if r.matches(scope)[0] is not Match.NONE), None)
        if route is None:
            return UNMATCHED
    # Without convertors: the route as the API document names it (`{name}`, not `{name:segment}`).
    path: str = getattr(route, "path_format", route.path)
    return path


class RequestObserver:
    """Ids, times, counts and logs every HTTP request; lifespan and websockets pass through."""

    def __init__(self, app: ASGIApp, *, instruments: Instruments) -> None:
        self.app = app
        self.instruments = instruments
        self._write_line: LineWriter | None = None
        self._line_writer_chosen = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope["headers"])
        status = 500  # unless an answer starts: the app raised before it could answer
        defaults = defaults_for(scope["path"])

        async def identified(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = with_defaults(list(message.get("headers", ())), defaults)
                message = {**message, "headers": [*headers, (HEADER, rid)]}
            await send(message)

        text_id = rid.decode()
        token = REQUEST_ID.set(text_id)
        try:
            await self.app(scope, receive, identified)
        finally:
            REQUEST_ID.reset(token)  # the request line names its id itself
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method: str = scope["method"]
            self.instruments.observe_request(method, route, status, seconds)
            if log.isEnabledFor(logging.INFO):
                self._log(scope, method, route, status, seconds, text_id)

    def _log(
        self, scope: Scope, method: str, route: str, status: int, seconds: float, rid: str
    ) -> None:
        """The request line: the route template, never the path or query (they can carry ids
        and secrets: Mailchimp's `?secret=`), and the API key's name, never the key."""
        state = scope.get("state")
        client = scope.get("client")
        fields = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "request_id": rid,
            "key_name": state.get("api_key") if state else None,
            "client": client[0] if client else None,
        }
        if not self._line_writer_chosen:
            # Chosen at the first request: logging is configured by then, and stays so.
            self._write_line = direct_line_writer(log)
            self._line_writer_chosen = True
        if self._write_line is not None:
            self._write_line(f"{method} {route} {status}", fields)
        else:
            log.info("%s %s %d", method, route, status, extra={"fields": fields})
