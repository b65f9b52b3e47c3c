"""Bounds on every request: how large its body may be and how long it may run.

A pure ASGI layer, outermost, so a body declared too large never reaches a route or the pool (one
sent in chunks is counted as the route reads it, after the key check), and a request
past its time is cancelled wherever it is (an open transaction rolls back with it) and answered
503, so one slow client or query cannot hold a connection for long.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform.commits import watching_writes
from app.platform.http import problem_types as p
from app.platform.http.problems import (
    OUTCOME_UNKNOWN_DETAIL,
    BodyTooLarge,
    ResponseStart,
    body_limit_detail,
    problem_body,
)

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
                # Sent in chunks, its size unknown: counted as the route reads it, which is
                # after the key check and inside the time limit.
                receive = _counted(receive, limit)
            elif declared is not None and declared.isdigit() and int(declared) > limit:
                await self._too_large(send, limit)
                return
        watch = ResponseStart(send)
        with watching_writes() as writes:
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
                if watch.started:
                    return
                if writes.maybe_saved:
                    await self._answer(
                        send,
                        p.OUTCOME_UNKNOWN,
                        OUTCOME_UNKNOWN_DETAIL,
                        retry_after=str(p.RETRY_AFTER_SECONDS),
                    )
                    return
                await self._answer(
                    send,
                    p.REQUEST_TIMEOUT,
                    f"The request ran longer than {self.timeout_s:g} s and was cancelled; "
                    "nothing was changed.",
                    retry_after="5",
                )

    async def _too_large(self, send: Send, limit: int) -> None:
        await self._answer(send, p.BODY_TOO_LARGE, body_limit_detail(limit), limit_bytes=limit)

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


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive`, refusing the body once more than `limit` bytes of it have arrived."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge(limit)
        return message

    return counted
