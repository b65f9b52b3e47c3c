"""One attempt at one endpoint: check where it goes, sign, post, and say what happened.

Every address a request may reach is checked: a host name is resolved, and each address it
resolves to checked, whenever a connection is opened to it (the client's resolver is
`_CheckedResolver`), and the connection goes to an address that passed; an address written in
the URL is checked at every attempt. So a name that resolves to a public address when
subscribed and to a private one later cannot steer a request inside. A connection is kept
alive between attempts to the same endpoint, as any client would: it stays with the address it
was opened to. Redirects are not followed: a 3xx is an answer like any non-2xx.

The client is aiohttp's: at the rate the log can grow (hundreds of changes a second, each sent
to every subscribed endpoint), the client's own CPU per request is what limits a delivery
process, and aiohttp's C parser spends a fraction of what a pure-Python HTTP stack does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from standardwebhooks.webhooks import Webhook

from app.platform.errors import InvalidWebhookTarget
from app.webhooks.domain import ATTEMPT_TIMEOUT_S, Network, parse_target, refusal_of

USER_AGENT = "leadstatus-webhooks/1"
ANSWER_READ_LIMIT = 64 * 1024
"""An answer's body is read (so its connection can be kept) only up to this size."""


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


def _check(host: str, addresses: Sequence[str], allowed: Sequence[Network], url: str) -> None:
    for address in addresses:
        why = refusal_of(address, allowed)
        if why is not None:
            named = why if address == host else f"{host} resolves to {why}"
            raise InvalidWebhookTarget(
                url,
                f"{named}; list its network in LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS to allow it",
            )


def _checked_literal(host: str, allowed: Sequence[Network], url: str) -> bool:
    """Whether `host` is an address rather than a name; an address is checked here (no
    resolver sees it), a name is left to `_checked_addresses`."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    _check(host, [host], allowed, url)
    return True


async def _checked_addresses(
    host: str, port: int, allowed: Sequence[Network], url: str
) -> list[tuple[int, int, str, int]]:
    """(family, proto, address, port) of each address `host` resolves to, all of them allowed."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidWebhookTarget(url, f"the host {host} does not resolve") from None
    found = list(dict.fromkeys((int(i[0]), int(i[2]), str(i[4][0]), int(i[4][1])) for i in infos))
    _check(host, [address for _, _, address, _ in found], allowed, url)
    return found


async def check_url(url: str, allowed: Sequence[Network]) -> None:
    """Refuse, with the reason, a URL the service would not send to."""
    target = parse_target(url)
    if not _checked_literal(target.host, allowed, url):
        await _checked_addresses(target.host, target.port, allowed, url)


class _CheckedResolver(AbstractResolver):
    """The client's name resolution: every address a name resolves to must be allowed, or no
    connection is opened at all (the refusal says why)."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self.allowed = tuple(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await _checked_addresses(host, port, self.allowed, host)
        return [
            ResolveResult(hostname=host, host=address, port=at, family=fam, proto=proto, flags=0)
            for fam, proto, address, at in found
        ]

    async def close(self) -> None:
        return None


def _failure(error: aiohttp.ClientError) -> str:
    """What went wrong on the wire, in a receiver's operator's words."""
    if isinstance(error, aiohttp.ClientConnectorError):
        code = error.os_error.errno
        return f"connection failed (could not connect: {os.strerror(code) if code else 'no route'})"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "connection failed (closed before an answer)"
    if isinstance(error, aiohttp.ClientResponseError):
        return "connection failed (the answer was not valid HTTP)"
    return f"connection failed ({type(error).__name__})"


class Sender:
    def __init__(self, allowed: Sequence[Network], timeout_s: float = ATTEMPT_TIMEOUT_S) -> None:
        self.allowed = tuple(allowed)
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        """Made on first use, inside the loop that sends."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=64,
                    resolver=_CheckedResolver(self.allowed),
                    use_dns_cache=False,
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers={"user-agent": USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()

        def took() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            _checked_literal(parse_target(url).host, self.allowed, url)
            async with self._client().post(
                url,
                data=body,
                headers={**headers, "content-type": "application/json"},
                allow_redirects=False,
            ) as response:
                status = response.status
                length = response.content_length
                if length is not None and length <= ANSWER_READ_LIMIT:
                    await response.read()
        except InvalidWebhookTarget as refused:
            return Answer(None, took(), str(refused.facts["why"]))
        except TimeoutError:
            return Answer(None, took(), f"no answer within {self.timeout_s:g} s")
        except aiohttp.ClientError as failed:
            return Answer(None, took(), _failure(failed))
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return Answer(status, took(), error)
