"""`leadstatus apikey ...`: the keys internal apps call the API with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from app.access.domain import KeyScope
from app.cli.console import run_on_database, say, utc_timestamp

apikey_cli = typer.Typer(help="API keys for internal apps (only their hashes are stored).")


def _scopes(value: str) -> list[KeyScope]:
    try:
        return [KeyScope(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError:
        known = ", ".join(s.value for s in KeyScope)
        raise typer.BadParameter(f"--scopes takes a comma-separated list of: {known}.") from None


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = utc_timestamp(value)
    if parsed <= datetime.now(UTC):
        raise typer.BadParameter("--expires must be in the future.")
    return parsed


@apikey_cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. the calling app's name.")],
    scopes: Annotated[
        str,
        typer.Option(help="Comma-separated: " + ", ".join(s.value for s in KeyScope) + "."),
    ],
    expires: Annotated[
        str | None,
        typer.Option(help="ISO 8601 date or timestamp (UTC). Default: never.", show_default=False),
    ] = None,
) -> None:
    """Create a key; prints it once, alone on the last line."""
    from app.access.service import create_key
    from app.platform.errors import KeyNameTaken

    chosen = _scopes(scopes)
    if not chosen:
        raise typer.BadParameter("--scopes needs at least one scope.")
    expires_at = _expiry(expires)
    try:
        row, key = run_on_database(
            lambda pool: create_key(pool, name=name, scopes=chosen, expires_at=expires_at)
        )
    except KeyNameTaken as taken:
        say(f"error: {taken}")
        raise typer.Exit(1) from None
    until = row["expires_at"].isoformat() if row["expires_at"] else "never"
    say(f"Created API key {name!r} with scopes {', '.join(row['scopes'])} (expires: {until}).")
    say("Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`; it is not shown again:")
    typer.echo(key)


@apikey_cli.command("list")
def list_() -> None:
    """Every key: name, hint, scopes, created, last used, expiry, revocation (never the key)."""
    from app.access.service import list_keys

    rows = run_on_database(list_keys)
    if not rows:
        say("No API keys yet: create one with `leadstatus apikey create`.")
    for row in rows:
        at = {
            name: row[name].isoformat(timespec="seconds") if row[name] else "-"
            for name in ("created_at", "last_used_at", "expires_at", "revoked_at")
        }
        typer.echo(
            f"{row['name']}\t{row['hint']}\t{','.join(row['scopes'])}\tcreated {at['created_at']}"
            f"\tlast used {at['last_used_at']}\texpires {at['expires_at']}"
            f"\trevoked {at['revoked_at']}"
        )


@apikey_cli.command("revoke")
def revoke(name: str) -> None:
    """Revoke a key: refused everywhere within seconds."""
    from app.access.service import revoke_key
    from app.platform.errors import KeyNotFound

    try:
        run_on_database(lambda pool: revoke_key(pool, name, now=datetime.now(UTC)))
    except KeyNotFound as missing:
        say(f"error: {missing}")
        raise typer.Exit(1) from None
    say(f"Revoked API key {name!r}.")
