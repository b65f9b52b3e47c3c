"""`leadstatus webhook ...`: endpoints the events are sent to, kept from the command line.

Same database and sealing key as `serve`, so an endpoint added here is delivered to by every
running process at once.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.console import run_on_database, say, utc_timestamp
from app.events.domain import EventType
from app.platform.settings import get_settings

webhook_cli = typer.Typer(help="Endpoints the events are POSTed to (signed, at least once).")


def _networks() -> Any:
    from app.webhooks.domain import parse_networks

    return parse_networks(get_settings().webhook_allowed_networks)


@webhook_cli.command("add")
def add(
    url: Annotated[str, typer.Argument(help="Where events are POSTed (http or https).")],
    event: Annotated[
        list[EventType] | None,
        typer.Option("--event", help="An event type it receives (repeatable). Default: all."),
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option(help="Only this pipeline's events. Default: every pipeline.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
) -> None:
    """Subscribe an endpoint; prints its signing secret once, on the last line."""
    from app.platform.errors import InvalidWebhookTarget
    from app.platform.sealing import sealer_for
    from app.webhooks.service import add_endpoint

    fields = {
        "url": url,
        "event_types": [str(e) for e in event or ()],
        "pipeline": pipeline,
        "description": description,
    }
    sealer = sealer_for(get_settings())
    try:
        row, secret = run_on_database(lambda pool: add_endpoint(pool, sealer, _networks(), fields))
    except InvalidWebhookTarget as refused:
        say(f"error: {refused}")
        raise typer.Exit(1) from None
    types = ", ".join(row["event_types"]) or "every event type"
    say(f"Added webhook {row['id']}: {types} to {url}")
    say(
        "Its signing secret follows; it is not shown again (`webhook rotate-secret` makes another)."
    )
    typer.echo(secret)


@webhook_cli.command("list")
def list_() -> None:
    """The endpoints (never their secrets), with what is pending or failed for each."""
    from app.webhooks.service import list_endpoints

    rows = run_on_database(list_endpoints)
    if not rows:
        say("No webhooks yet: add one with `leadstatus webhook add URL`.")
        return
    for row in rows:
        state = "enabled" if row["enabled"] else f"disabled ({row['disabled_reason']})"
        types = ",".join(row["event_types"]) or "*"
        typer.echo(f"{row['id']}\t{row['url']}\t{types}\t{row['pipeline'] or '*'}\t{state}")


@webhook_cli.command("remove")
def remove(endpoint_id: int) -> None:
    """Remove an endpoint and its queued deliveries."""
    from app.platform.errors import WebhookNotFound
    from app.webhooks.service import remove_endpoint

    try:
        run_on_database(lambda pool: remove_endpoint(pool, endpoint_id))
    except WebhookNotFound as missing:
        say(f"error: {missing}")
        raise typer.Exit(1) from None
    say(f"Removed webhook {endpoint_id}.")


@webhook_cli.command("rotate-secret")
def rotate(endpoint_id: int) -> None:
    """A new signing secret (printed once); the old one signs beside it for 24 hours."""
    from app.platform.errors import WebhookNotFound
    from app.platform.sealing import sealer_for
    from app.webhooks.service import rotate_secret

    sealer = sealer_for(get_settings())
    try:
        _, secret = run_on_database(lambda pool: rotate_secret(pool, sealer, endpoint_id))
    except WebhookNotFound as missing:
        say(f"error: {missing}")
        raise typer.Exit(1) from None
    say(f"Rotated the secret of webhook {endpoint_id}; the old one still signs for 24 hours.")
    typer.echo(secret)


@webhook_cli.command("recover")
def recover(
    endpoint_id: int,
    since: Annotated[str, typer.Option(help="ISO 8601 time to deliver again from.")],
) -> None:
    """Queue again everything since SINCE that the endpoint has not received."""
    from app.platform.errors import WebhookNotFound
    from app.webhooks.service import recover as queue_again

    when = utc_timestamp(since)
    try:
        queued = run_on_database(lambda pool: queue_again(pool, endpoint_id, since=when))
    except WebhookNotFound as missing:
        say(f"error: {missing}")
        raise typer.Exit(1) from None
    say(f"Queued {queued} deliveries for webhook {endpoint_id}.")
