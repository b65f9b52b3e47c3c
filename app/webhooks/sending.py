"""One attempt at one endpoint: resolve, check where it goes, sign, post, and say what happened.

The host is resolved here and the request is sent to the address that was checked (with the
host's name in `Host` and, for https, in the TLS handshake), so a name that resolves to a public
address when checked and to a private one a moment later cannot steer a request inside.
Redirects are not followed: a 3xx is an answer like any non-2xx.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from app.platform.errors import InvalidWebhookTarget
from app.webhooks.domain import ATTEMPT_TIMEOUT_S, Network, Target, parse_target, refusal_of

USER_AGENT = "leadstatus-webhooks/1"


@dataclass(frozen=True)
class Answer:
    status: int | None
    """The HTTP status, or None when there was no answer."""
    duration_ms: int
    error: str | None


def signature_headers(
    message_id: str, body: bytes, secrets: Sequence[str], at: datetime
) -> dict[str, str]:
    """Standard Webhooks headers; during a rotation both secrets sign (either one verifies)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message_id, at, body) for s in secrets),
    }


async def resolve(target: Target, allowed: Sequence[Network], url: str) -> str:
    """The address to connect to, once every address the host has is allowed."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError):
        raise InvalidWebhookTarget(url, f"the host {target.host} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        why = refusal_of(address, allowed)
        if why is not None:
            raise InvalidWebhookTarget(
                url,
                f"{target.host} resolves to {why}; list its network in "
                "LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS to allow it",
            )
    return addresses[0]


async def check_url(url: str, allowed: Sequence[Network]) -> None:
    """Refuse, with the reason, a URL the service would not send to."""
    await resolve(parse_target(url), allowed, url)


class Sender:
    def __init__(self, allowed: Sequence[Network], timeout_s: float = ATTEMPT_TIMEOUT_S) -> None:
        self.allowed = tuple(allowed)
        self.timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()

        def took() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            target = parse_target(url)
            address = await resolve(target, self.allowed, url)
        except InvalidWebhookTarget as refused:
            return Answer(None, took(), str(refused.facts["why"]))
        literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
        default_port = 443 if target.scheme == "https" else 80
        host = target.host if target.port == default_port else f"{target.host}:{target.port}"
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            response = await self._client.post(
                f"{target.scheme}://{literal}:{target.port}{target.path}",
                content=body,
                headers={
                    **headers,
                    "host": host,
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                },
                extensions=extensions,
            )
        except httpx.TimeoutException:
            return Answer(None, took(), f"no answer within {self.timeout_s:g} s")
        except httpx.HTTPError as failed:
            return Answer(None, took(), f"connection failed ({type(failed).__name__})")
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return Answer(response.status_code, took(), error)
