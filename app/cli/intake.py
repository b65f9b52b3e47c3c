"""`leadstatus source ...` and `leadstatus intake ...`: intake sources and their deliveries.

They use the same database as `serve` (the embedded one when DATABASE_URL is unset) and the same
key for sealed secrets, so a source added here verifies there at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from app.cli.console import run_on_database, say, utc_timestamp
from app.intake.domain import SourceKind
from app.platform.settings import get_settings

source_cli = typer.Typer(help="Marketing tools allowed to post leads (intake sources).")
intake_cli = typer.Typer(help="Deliveries received from intake sources.")

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _keeper() -> Any:
    from app.intake.secrets import keeper_for

    try:
        return keeper_for(get_settings())
    except ValueError:
        raise typer.BadParameter(
            "LEADSTATUS_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes)."
        ) from None


def _field_map(pairs: list[str]) -> dict[str, str]:
    from app.intake.payloads import LEAD_FIELDS

    mapping = {}
    for pair in pairs:
        field, sep, path = pair.partition("=")
        if not sep or not path or field not in (*LEAD_FIELDS, "external_id"):
            raise typer.BadParameter(
                f"--map takes FIELD=PATH with FIELD one of {', '.join(LEAD_FIELDS)}, external_id;"
                f" got {pair!r}."
            )
        mapping[field] = path
    return mapping


@source_cli.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits, - and _.")],
    kind: Annotated[SourceKind, typer.Option(help="How the tool signs its deliveries.")],
    secret: Annotated[
        str | None,
        typer.Option(
            help="Use this secret (HubSpot's app secret, a whsec_ secret). Default: generate.",
            show_default=False,
        ),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Owner of the leads it creates.")] = None,
    segment: Annotated[str | None, typer.Option(help="Segment of the leads it creates.")] = None,
    pipeline: Annotated[
        str, typer.Option(help="The pipeline its new leads enter (`leadstatus pipeline list`).")
    ] = "default",
    lead_source: Annotated[
        str | None,
        typer.Option(help="The leads' `source` value. Default: the source's name."),
    ] = None,
    reopen_returning: Annotated[
        bool,
        typer.Option(
            "--reopen-returning/--report-returning",
            help="Reopen a returning recycled, lost or no-decision lead (needs_changed), "
            "or only report it.",
        ),
    ] = False,
    field_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=PATH where this tool puts a lead field, e.g. company=properties.org.value"
            " (repeatable; overrides the kind's default).",
        ),
    ] = None,
) -> None:
    """Allow a marketing tool to post leads; prints its secret once, on the last line."""
    import re

    from app.intake.sources import add_source
    from app.platform.errors import BadSecret, IntakeSourceExists, PipelineNotFound

    if not re.match(NAME_PATTERN, name):
        raise typer.BadParameter("A source name is lower-case letters, digits, - and _.")
    source = {
        "name": name,
        "kind": kind.value,
        "lead_source": lead_source or name,
        "default_owner": owner,
        "default_segment": segment,
        "reopen_returning": reopen_returning,
        "field_map": _field_map(field_map or []),
        "pipeline": pipeline,
    }
    keeper = _keeper()
    try:
        _, plain = run_on_database(lambda pool: add_source(pool, keeper, source, secret))
    except (IntakeSourceExists, BadSecret, PipelineNotFound) as refused:
        say(f"error: {refused}")
        raise typer.Exit(1) from None
    say(f"Added {kind.value} source {name!r}: POST /v1/intake/{name}")
    say("Its secret follows; it is not shown again (rotate it with `source rotate-secret`).")
    typer.echo(plain)


@source_cli.command("list")
def list_() -> None:
    """The configured sources (never their secrets)."""
    from app.intake.sources import list_sources

    rows = run_on_database(list_sources)
    if not rows:
        say("No intake sources yet: add one with `leadstatus source add NAME --kind KIND`.")
        return
    for row in rows:
        last = row["last_delivery_at"]
        extras = [
            f"lead source {row['lead_source']}",
            f"owner {row['default_owner'] or '-'}",
            f"segment {row['default_segment'] or '-'}",
            f"pipeline {row['pipeline']}",
            "reopens returning leads" if row["reopen_returning"] else "reports returning leads",
            f"last delivery {last.isoformat(timespec='seconds') if last else 'never'}",
        ]
        if row["field_map"]:
            extras.append("map " + ", ".join(f"{k}={v}" for k, v in row["field_map"].items()))
        typer.echo(f"{row['name']}\t{row['kind']}\t/v1/intake/{row['name']}\t" + "; ".join(extras))


@source_cli.command("update")
def update(
    name: str,
    owner: Annotated[str | None, typer.Option(help="New default owner.")] = None,
    segment: Annotated[str | None, typer.Option(help="New default segment.")] = None,
    pipeline: Annotated[
        str | None, typer.Option(help="The pipeline its new leads enter from now on.")
    ] = None,
    reopen_returning: Annotated[
        bool | None,
        typer.Option(
            "--reopen-returning/--report-returning",
            help="Reopen returning leads, or only report them.",
            show_default=False,
        ),
    ] = None,
    field_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="FIELD=PATH; given at all, it replaces the source's map."),
    ] = None,
) -> None:
    """Change a source's defaults or field map (then `intake replay` to re-read deliveries)."""
    from app.intake.sources import update_source
    from app.platform.errors import IntakeSourceNotFound, PipelineNotFound

    changes: dict[str, Any] = {}
    if owner is not None:
        changes["default_owner"] = owner
    if segment is not None:
        changes["default_segment"] = segment
    if pipeline is not None:
        changes["pipeline"] = pipeline
    if reopen_returning is not None:
        changes["reopen_returning"] = reopen_returning
    if field_map is not None:
        changes["field_map"] = _field_map(field_map)
    if not changes:
        raise typer.BadParameter(
            "Nothing to change: give --owner, --segment, --pipeline, --map or --reopen-."
        )
    try:
        run_on_database(lambda pool: update_source(pool, name, changes))
    except (IntakeSourceNotFound, PipelineNotFound) as missing:
        say(f"error: {missing}")
        raise typer.Exit(1) from None
    say(f"Updated source {name!r}: " + ", ".join(sorted(changes)))


@source_cli.command("rotate-secret")
def rotate(
    name: str,
    secret: Annotated[
        str | None, typer.Option(help="Use this secret. Default: generate.", show_default=False)
    ] = None,
) -> None:
    """Replace a source's secret; the old one still verifies for 24 hours."""
    from app.intake.sources import rotate_secret
    from app.platform.errors import BadSecret, IntakeSourceNotFound

    keeper = _keeper()
    try:
        plain = run_on_database(
            lambda pool: rotate_secret(pool, keeper, name, secret, now=datetime.now(UTC))
        )
    except (IntakeSourceNotFound, BadSecret) as refused:
        say(f"error: {refused}")
        raise typer.Exit(1) from None
    say(f"New secret for {name!r}; the previous one keeps working for 24 hours:")
    typer.echo(plain)


@source_cli.command("remove")
def remove(name: str) -> None:
    """Stop accepting a source's deliveries and forget them (leads stay)."""
    from app.intake.sources import remove_source
    from app.platform.errors import IntakeSourceNotFound

    try:
        run_on_database(lambda pool: remove_source(pool, name))
    except IntakeSourceNotFound as missing:
        say(f"error: {missing}")
        raise typer.Exit(1) from None
    say(f"Removed source {name!r}.")


@intake_cli.command("replay")
def replay(
    source: Annotated[str, typer.Option(help="The source whose deliveries to read again.")],
    since: Annotated[str, typer.Option(help="From this ISO 8601 date or timestamp (UTC).")],
) -> None:
    """Read stored deliveries again with the source's current mapping (after fixing it)."""
    from pydantic import ValidationError

    from app.intake.service import find_source
    from app.intake.sources import replay as replay_deliveries
    from app.leads.schemas import LeadCreate
    from app.platform.errors import IntakeSourceNotFound

    start = utc_timestamp(since)
    keeper = _keeper()

    def validate(fields: dict[str, Any]) -> dict[str, Any]:
        try:
            return LeadCreate.model_validate(fields).model_dump(exclude_unset=True)
        except ValidationError as invalid:
            raise ValueError(str(invalid.errors()[0]["msg"])) from None

    def progress(done: int, total: int) -> None:
        if done == total or done % 500 == 0:
            say(f"  {done}/{total} deliveries")

    async def work(pool: Any) -> Any:
        now = datetime.now(UTC)
        configured = await find_source(pool, source, keeper=keeper, now=now)
        return await replay_deliveries(
            pool, configured, since=start, validate=validate, now=now, progress=progress
        )

    try:
        tally = run_on_database(work)
    except IntakeSourceNotFound as missing:
        say(f"error: {missing}")
        raise typer.Exit(1) from None
    if not tally:
        say(f"No deliveries from {source!r} since {start.isoformat()}.")
        return
    say("Replayed: " + ", ".join(f"{what} {n}" for what, n in sorted(tally.items())))
