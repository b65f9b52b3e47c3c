"""Bounds on every request: how large its body may be and how long it may run.

A pure ASGI layer, outermost, so a refused body never reaches a route or the pool, and a request
past its time is cancelled wherever it is (an open transaction rolls back with it) and answered
503, so one slow client or query cannot hold a connection for long.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform.http import problem_types as p
from app.platform.http.problems import ResponseStart, problem_body

log = logging.getLogger("leadstatus.limits")

BATCH_PATHS = frozenset({"/v1/leads:batch", "/v1/leads:batch-transition"})
BATCH_FACTOR = 4
"""A batch of 1,000 leads (or of 1,000 status changes) needs more room than one."""


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s

    def _limit(self, path: str) -> int | None:
        if path.startswith("/v1/intake/"):
            return None  # each source kind bounds its own payloads (256 KiB)
        if path in BATCH_PATHS:
            return self.max_body_bytes * BATCH_FACTOR
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        if limit is not None:
            declared = next(
                (value for name, value in scope["headers"] if name == b"content-length"), None
            )
            if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
                # Sent in chunks, its size unknown: read it here, up to the limit.
                buffered = await self._buffered(receive, limit)
                if buffered is None:
                    await self._too_large(send, limit)
                    return
                receive = buffered
            elif declared is not None and declared.isdigit() and int(declared) > limit:
                await self._too_large(send, limit)
                return
        watch = ResponseStart(send)
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.app(scope, receive, watch)
        except TimeoutError:
            log.warning(
                "request past %.0f s cancelled: %s %s",
                self.timeout_s,
                scope["method"],
                scope["path"],
            )
            if not watch.started:
                await self._answer(
                    send,
                    p.REQUEST_TIMEOUT,
                    f"The request ran longer than {self.timeout_s:g} s and was cancelled; "
                    "nothing was changed.",
                    retry_after="5",
                )

    @staticmethod
    async def _buffered(receive: Receive, limit: int) -> Receive | None:
        """The whole body, replayed to the app; None when it outgrows `limit`."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _too_large(self, send: Send, limit: int) -> None:
        await self._answer(
            send, p.BODY_TOO_LARGE, f"The body is limited to {limit} bytes.", limit_bytes=limit
        )

    @staticmethod
    async def _answer(
        send: Send,
        kind: p.ProblemType,
        detail: str,
        *,
        retry_after: str | None = None,
        **facts: object,
    ) -> None:
        headers = [(b"content-type", b"application/problem+json")]
        if retry_after is not None:
            headers.append((b"retry-after", retry_after.encode()))
        await send({"type": "http.response.start", "status": kind.status, "headers": headers})
        await send(
            {
                "type": "http.response.body",
                "body": orjson.dumps(problem_body(kind, detail, **facts)),
            }
        )
