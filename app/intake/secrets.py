"""Intake sources' secrets: generated, sealed at rest, and opened only to check a signature.

HMAC schemes (Standard Webhooks, HubSpot) need the secret itself to check a signature, so it is
kept encrypted with a Fernet key that lives outside the database (`LEADSTATUS_SECRET_KEY`, or a
key file next to the embedded database); shared-secret schemes only compare what the sender
presents, so they keep a SHA-256 digest and nothing that could be turned back into the secret.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from app.intake.domain import SourceKind
from app.intake.signatures import secret_digest
from app.platform.errors import SecretsUnreadable
from app.platform.settings import Settings

_SEALED = "fernet:"


def new_secret(kind: SourceKind) -> str:
    """A fresh random secret in the form the kind's senders expect."""
    raw = secrets.token_bytes(32)
    if kind is SourceKind.STANDARD:
        return "whsec_" + base64.b64encode(raw).decode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class SecretKeeper:
    """Turns a secret into what is stored for its kind, and a stored HMAC secret back."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def stored_form(self, kind: SourceKind, secret: str) -> str:
        if kind.signs_with_hmac:
            return _SEALED + self._fernet.encrypt(secret.encode()).decode()
        return secret_digest(secret)

    def open(self, stored: str) -> str:
        """The secret an HMAC source signs with; a digest is returned as is (compared only)."""
        if not stored.startswith(_SEALED):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(_SEALED).encode()).decode()
        except InvalidToken:
            raise SecretsUnreadable(
                "An intake secret does not open with the configured LEADSTATUS_SECRET_KEY."
            ) from None


def keeper_for(settings: Settings) -> SecretKeeper:
    if settings.secret_key is not None:
        return SecretKeeper(settings.secret_key.get_secret_value().encode())
    return SecretKeeper(_key_file(settings.data_dir / "secret.key"))


def _key_file(path: Path) -> bytes:
    """The local key, created once, readable by this user only."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key
