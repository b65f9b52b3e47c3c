"""Secrets the service must use again (to sign or check a signature), kept encrypted at rest.

HMAC needs the secret itself, so a digest will not do: it is sealed with a Fernet key that lives
outside the database (`LEADSTATUS_SECRET_KEY`, or a key file next to the embedded database), and
a stolen dump without that key holds no usable secret. Intake sources and webhook endpoints both
keep theirs this way.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from app.platform.errors import SecretsUnreadable
from app.platform.settings import Settings

SEALED = "fernet:"
"""How a sealed secret starts, telling it from anything else stored in its place."""


def new_standard_secret() -> str:
    """A fresh Standard Webhooks secret (`whsec_` and 32 random bytes in base64): what intake's
    Standard Webhooks senders sign with and what webhook endpoints are signed with."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Sealer:
    """Seals and opens with the key `key()` gives, asked for on first use (a process that never
    needs a secret never creates a key file)."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key
        self._cipher: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        if self._cipher is None:
            self._cipher = Fernet(self._key())
        return self._cipher

    def seal(self, secret: str) -> str:
        return SEALED + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken:
            raise SecretsUnreadable(
                "A stored secret does not open with the configured LEADSTATUS_SECRET_KEY."
            ) from None


def sealer_for(settings: Settings) -> Sealer:
    configured = settings.secret_key
    if configured is not None:
        return Sealer(lambda: configured.get_secret_value().encode())
    return Sealer(lambda: _key_file(settings.data_dir / "secret.key"))


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
