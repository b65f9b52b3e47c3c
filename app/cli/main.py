"""The `leadstatus` command: serve, migrate, seed, openapi; apikey, source, intake, pipeline."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.console import database_url as _database_url
from app.cli.console import run_on_database, utc_timestamp
from app.cli.console import say as _say
from app.platform.settings import get_settings

if TYPE_CHECKING:
    from alembic.config import Config

cli = typer.Typer(help="leadstatus: owns the status of sales leads.", no_args_is_help=True)

ROOT = Path(__file__).resolve().parents[2]
"""The project root, where alembic.ini and alembic/ are (an editable install or the image)."""


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    for base in (ROOT, Path.cwd()):
        if (base / "alembic.ini").exists():
            cfg = Config(str(base / "alembic.ini"))
            cfg.attributes["database_url"] = url
            return cfg
    raise typer.BadParameter("alembic.ini not found next to the app or in the current directory")


def _migrate(url: str) -> None:
    from alembic import command

    _say("Migrating the database to the latest schema ...")
    command.upgrade(_alembic_config(url), "head")
    _say("Schema is up to date.")


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    _migrate(_database_url())


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Migrate before serving.")
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Also write uvicorn's own access line (the service logs every request already)."
        ),
    ] = False,
    dev_key: Annotated[
        bool,
        typer.Option(
            "--dev-key",
            help="Local development: make (once) an API key with every scope, kept in the data "
            "directory, and print it.",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (Swagger UI at /docs), and deliver webhooks from a process beside it."""
    _exit_on_sigterm()
    settings = get_settings()
    url = _database_url()
    if migrate_first:
        _migrate(url)
    _say(f"Serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if dev_key:
        _say(f"Development API key (every scope; Authorize in /docs): {_development_key(url)}")
    delivering = _start_delivery() if settings.webhooks else None
    try:
        _serve_http(host, port, workers, access_log)
    finally:
        if delivering is not None:
            _stop_delivery(delivering)


def _exit_on_sigterm() -> None:
    """Exit normally on SIGTERM: uvicorn re-raises it after its graceful shutdown, and with the
    default handler the process dies before atexit runs, orphaning the embedded PostgreSQL."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


DELIVERY_NICENESS = 5
"""How much lower the delivery process's CPU priority is than the API's: under a burst of
writes, requests come first and deliveries catch up."""


def deliver_command(*options: str) -> list[str]:
    """`leadstatus deliver` as this interpreter runs it (whatever the script is called)."""
    return [sys.executable, "-c", "from app.cli.main import main; main()", "deliver", *options]


def _start_delivery() -> subprocess.Popen[bytes]:
    """`leadstatus deliver` beside the API, on the same database (already in the environment)."""
    return subprocess.Popen(
        deliver_command("--nice", str(DELIVERY_NICENESS)),
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def _stop_delivery(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serve_http(host: str, port: int, workers: int, access_log: bool) -> None:
    import uvicorn

    from app.platform.observability.logs import logging_config

    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=settings.log_level,
        # Applied by uvicorn in every worker: JSON lines unless stderr is a terminal.
        log_config=logging_config(
            wanted=settings.log_format, level=settings.log_level, stream=sys.stderr
        ),
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )


def _development_key(url: str) -> str:
    from app.access.service import development_key

    path = get_settings().data_dir / "dev-key"
    kept = path.read_text().strip() if path.exists() else None
    key = run_on_database(lambda pool: development_key(pool, kept, now=datetime.now(UTC)), url=url)
    if key != kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key + "\n")
        path.chmod(0o600)
    return key


@cli.command()
def deliver(
    nice: Annotated[
        int, typer.Option(min=0, max=19, help="Lower this process's CPU priority by this much.")
    ] = 0,
) -> None:
    """Deliver webhooks until stopped (`serve` runs one; more share the work)."""
    import asyncio
    import logging.config

    from app.platform.observability.logs import logging_config
    from app.webhooks.delivery import run_delivery

    _exit_on_sigterm()
    if nice:
        os.nice(nice)
    settings = get_settings()
    logging.config.dictConfig(
        logging_config(wanted=settings.log_format, level=settings.log_level, stream=sys.stderr)
    )
    url = _database_url()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_delivery(url, settings))


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the schema.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI schema the app serves (no database needed)."""
    from app.main import create_app

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi(create_app().openapi()))
    _say(f"Wrote {output}")


def render_openapi(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _seed_now(value: str | None) -> datetime:
    """--now as an aware datetime: ISO 8601, UTC when it names no offset, default the clock."""
    return datetime.now(UTC) if value is None else utc_timestamp(value)


@cli.command()
def seed(
    leads: Annotated[int, typer.Option(min=0, help="How many demo leads to add.")],
    random_seed: Annotated[
        int, typer.Option("--seed", help="Same seed, --leads and --now: the same leads.")
    ] = 1,
    now: Annotated[
        str | None,
        typer.Option(
            help="End of the two-year history, ISO 8601 (UTC if no offset). Default: now.",
            show_default=False,
        ),
    ] = None,
    if_fewer: Annotated[
        bool,
        typer.Option("--if-fewer", help="Only seed if the database holds fewer than --leads."),
    ] = False,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Migrate before seeding.")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Generator processes. Default: one per CPU.")
    ] = max(os.cpu_count() or 1, 1),
) -> None:
    """Add a realistic two-year sales history (demo data), made through the workflow rules."""
    import asyncio

    from app.demo.seeding import SeedPlan, seed_demo

    plan = SeedPlan(
        leads=leads,
        seed=random_seed,
        now=_seed_now(now),
        if_fewer=if_fewer,
        workers=workers,
    )
    url = _database_url()
    if migrate_first:
        _migrate(url)
    summary = asyncio.run(seed_demo(url, plan, say=_say))
    _say(summary.describe())


def main() -> None:
    cli()


# Sub-commands live in their own module; they share only app.cli.console with the ones above.
from app.cli.access import apikey_cli  # noqa: E402
from app.cli.intake import intake_cli, source_cli  # noqa: E402
from app.cli.pipelines import pipeline_cli  # noqa: E402
from app.cli.webhooks import webhook_cli  # noqa: E402

cli.add_typer(apikey_cli, name="apikey")
cli.add_typer(source_cli, name="source")
cli.add_typer(intake_cli, name="intake")
cli.add_typer(pipeline_cli, name="pipeline")
cli.add_typer(webhook_cli, name="webhook")
