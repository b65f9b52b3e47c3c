"""Intake sources' secrets: generated, sealed at rest, and opened only to check a signature.

HMAC schemes (Standard Webhooks, HubSpot) need the secret itself to check a signature, so it is
sealed (`app.platform.sealing`); shared-secret schemes only compare what the sender presents,
so they keep a SHA-256 digest and nothing that could be turned back into the secret.
"""

from __future__ import annotations

import base64
import secrets

from app.intake.domain import SourceKind
from app.intake.signatures import secret_digest
from app.platform.sealing import SEALED, Sealer, new_standard_secret, sealer_for
from app.platform.settings import Settings


def new_secret(kind: SourceKind) -> str:
    """A fresh random secret in the form the kind's senders expect."""
    if kind is SourceKind.STANDARD:
        return new_standard_secret()
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


class SecretKeeper:
    """Turns a secret into what is stored for its kind, and a stored HMAC secret back."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def stored_form(self, kind: SourceKind, secret: str) -> str:
        if kind.signs_with_hmac:
            return self._sealer.seal(secret)
        return secret_digest(secret)

    def open(self, stored: str) -> str:
        """The secret an HMAC source signs with; a digest is returned as is (compared only)."""
        if not stored.startswith(SEALED):
            return stored
        return self._sealer.open(stored)


def keeper_for(settings: Settings) -> SecretKeeper:
    return SecretKeeper(sealer_for(settings))
