"""The rules of webhook delivery as plain values: where a request may go, when to try again,
and what an answer means.

Delivery is at least once: an attempt that got no 2xx is tried again on a schedule of about
three days, with jitter so that an endpoint that comes back is not hit by every retry at once.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from app.platform.errors import InvalidWebhookTarget

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    *(timedelta(hours=12),) * 5,
)
"""The wait before each retry; after the last one the delivery has failed (about 3.1 days)."""
JITTER = 0.2
"""Each wait is stretched or shrunk by up to this share, at random."""
DISABLE_AFTER_FAILING = timedelta(days=5)
"""An endpoint that has not taken a single delivery for this long is disabled."""
ATTEMPT_TIMEOUT_S = 10.0
SECRET_OVERLAP = timedelta(hours=24)
"""How long the secret a rotation replaced still signs beside the new one."""


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def retry_delay(attempts: int, rng: random.Random) -> timedelta | None:
    """The wait before the next attempt once `attempts` have failed; None when none is left."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    base = RETRY_DELAYS[attempts - 1]
    return base * (1 + rng.uniform(-JITTER, JITTER))


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"
    """The receiver says the endpoint no longer exists (410): disable it."""


def verdict(status: int | None) -> Verdict:
    """What an answer means; None is no answer at all (timeout, refused, cut)."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GONE
    return Verdict.RETRY


@dataclass(frozen=True)
class Target:
    """A URL split into what a request to it needs."""

    scheme: str
    host: str
    port: int
    path: str
    """The path and query, as sent."""


def parse_target(url: str) -> Target:
    """A webhook URL as a target, or the reason it cannot be one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidWebhookTarget(url, "the URL must start with http:// or https://")
    if not parts.hostname:
        raise InvalidWebhookTarget(url, "the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookTarget(url, "credentials in the URL are not sent; put them in the path")
    if parts.fragment:
        raise InvalidWebhookTarget(url, "a URL fragment is never sent; remove it")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidWebhookTarget(url, "the port is not a number from 1 to 65535") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, parts.hostname, port, path)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """A comma-separated list of networks (`10.0.0.0/8, fd00::/8`); a bare address is its own."""
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in text.split(",") if item.strip()
    )


def refusal_of(address: str, allowed: Sequence[Network]) -> str | None:
    """Why a request may not go to `address`, or None when it may.

    Private, loopback, link-local and other non-public addresses are where an attacker who can
    name a URL would aim (the cloud's metadata service, the database's port): refused unless the
    deployment lists their network as its own."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return None
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return f"{ip} is not a public address"
    if ip.is_private:
        return f"{ip} is a private address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None
