"""A steady write load on a served process: clients creating leads and moving them to won, with
two moves on each lead's way that the workflow refuses, and a record of every answer.

Each request carries a tag that its event carries too (a creation's email, a change's note), so
what a webhook receiver got can be matched with what the clients were told.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

STEPS = (
    ("won", "contract_signed", 409),  # not a move from new
    ("contacted", "call_connected", None),
    ("qualified", "need_confirmed", None),
    ("lost", "no_such_reason", 422),  # not a reason for lost
    ("negotiating", "proposal_sent", None),
    ("won", "contract_signed", None),
)
"""Each lead's way: (to, reason, the refusal expected or None)."""


@dataclass(frozen=True)
class Sent:
    tag: str
    refusal: int | None
    """The status the workflow refuses this request with; None when it should apply."""
    status: int | None
    """None: no answer (the connection broke or the client gave up)."""
    lead_id: int | None = None
    version: int | None = None
    """The lead's version after an applied request: its event's `sequence`."""
    path: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    """Its Idempotency-Key, when the load sends them."""
    problem: str | None = None
    """The problem type of a refusal or failure, as its last path segment."""

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused(self) -> bool:
        return self.status is not None and 400 <= self.status < 500


@dataclass
class WriteLoad:
    client: httpx.AsyncClient
    workers: int = 3
    pause_s: float = 0.05
    keyed: bool = False
    """Every other worker sends each request with an Idempotency-Key of its own."""
    sent: list[Sent] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            *(self._lead_after_lead(stop, self.keyed and i % 2 == 0) for i in range(self.workers))
        )

    def acknowledged(self) -> dict[str, Sent]:
        return {s.tag: s for s in self.sent if s.acknowledged}

    def refused(self) -> set[str]:
        return {s.tag for s in self.sent if s.refused}

    def unknown(self) -> set[str]:
        """Requests whose outcome the client does not know (no answer, or a 5xx)."""
        return {s.tag for s in self.sent if not s.acknowledged and not s.refused}

    async def _send(
        self, path: str, body: dict[str, Any], refusal: int | None, keyed: bool
    ) -> Sent:
        tag = body.get("note") or body["email"]
        key = uuid.uuid4().hex if keyed else None
        try:
            r = await self.client.post(
                path, json=body, headers={"Idempotency-Key": key} if key else None
            )
        except httpx.HTTPError:
            sent = Sent(tag, refusal, None, path=path, body=body, key=key)
        else:
            answer = r.json() if r.headers.get("content-type", "").endswith("json") else {}
            lead = answer if r.is_success else {}
            sent = Sent(
                tag,
                refusal,
                r.status_code,
                lead.get("id"),
                lead.get("version"),
                path=path,
                body=body,
                key=key,
                problem=None if r.is_success else str(answer.get("type", "")).rsplit("/", 1)[-1],
            )
        self.sent.append(sent)
        return sent

    async def _lead_after_lead(self, stop: asyncio.Event, keyed: bool) -> None:
        """A new lead, moved step by step; a lead whose last change's outcome is unknown is
        left where it may be."""
        while not stop.is_set():
            email = f"{uuid.uuid4().hex}@example.com"
            created = await self._send("/v1/leads", {"email": email}, None, keyed)
            await asyncio.sleep(self.pause_s)
            if not created.acknowledged:
                continue
            for to, reason, refusal in STEPS:
                if stop.is_set():
                    return
                body = {"to": to, "reason": reason, "note": uuid.uuid4().hex}
                moved = await self._send(
                    f"/v1/leads/{created.lead_id}/transitions", body, refusal, keyed
                )
                await asyncio.sleep(self.pause_s)
                if not moved.acknowledged and not moved.refused:
                    break
