"""Who may do what: API key scopes, and the keys themselves as the service sees them.

Internal apps each hold a key with the scopes they need; a key is checked on every `/v1` call
(intake has its own source secrets instead). Only a hash of a key is ever stored, so the key
itself exists once: in the output of `leadstatus apikey create`, and in the app that holds it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

KEY_PREFIX = "lsk_"
"""Recognizable in logs, config and secret scanners; the rest is 256 random bits."""


class KeyScope(StrEnum):
    LEADS_READ = "leads:read"
    """Read leads, their history and the workflow."""
    LEADS_WRITE = "leads:write"
    """Create and edit leads and move them through the workflow (batch import included)."""
    LEADS_REOPEN = "leads:reopen"
    """Reopen closed-lost, no-decision and recycled deals."""
    METRICS_READ = "metrics:read"
    """Read the sales metrics."""
    ADMIN = "admin"
    """Every scope."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key's record (never the key itself)."""

    name: str
    scopes: frozenset[KeyScope]
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at

    def allows(self, scope: KeyScope) -> bool:
        return KeyScope.ADMIN in self.scopes or scope in self.scopes


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> bytes:
    """What is stored and looked up: the key is 256 random bits, so one SHA-256 is enough
    (a slow password hash protects guessable secrets, which these are not)."""
    return hashlib.sha256(key.encode()).digest()
