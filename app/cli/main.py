"""The `leadstatus` command: serve, migrate, seed, openapi; apikey, source, intake, pipeline."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.cli.console import database_url as _database_url
from app.cli.console import run_on_database, utc_timestamp
from app.cli.console import say as _say
from app.platform.settings import Settings, get_settings

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
    cfg = _alembic_config(url)
    applied: list[str] = []
    cfg.attributes["on_version_apply"] = lambda *, step, **_: applied.append(step.up_revision_id)
    command.upgrade(cfg, "head")
    _say(migration_report(applied))


def migration_report(applied: list[str]) -> str:
    """What `migrate` did, in one line: the revisions it applied, or that there were none."""
    if not applied:
        return "The schema was already at the latest revision: nothing to apply."
    if len(applied) == 1:
        return f"Applied revision {applied[0]}: the schema is at the latest revision."
    return (
        f"Applied {len(applied)} revisions ({applied[0]} to {applied[-1]}): the schema is at "
        "the latest revision."
    )


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
    """Serve the HTTP API (Swagger UI at /docs), and deliver webhooks (and publish to NATS) from a
    process beside it."""
    _exit_on_sigterm()
    settings = get_settings()
    url = _database_url()
    if migrate_first:
        _migrate(url)
    _say(
        f"Serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs,"
        f" sales dashboard: http://{host}:{port}/dashboard)"
    )
    if dev_key:
        _say(f"Development API key (every scope; Authorize in /docs): {_development_key(url)}")
    beside = "deliver" if settings.webhooks else "publish" if settings.nats_url else None
    delivering = _start_beside(beside) if beside else None
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


def background_command(name: str, *options: str) -> list[str]:
    """`leadstatus <name>` as this interpreter runs it (whatever the script is called)."""
    return [sys.executable, "-c", "from app.cli.main import main; main()", name, *options]


def _start_beside(name: str) -> subprocess.Popen[bytes]:
    """`leadstatus deliver` (or `publish`) beside the API, on the same database (already in the
    environment), tied to this process by a pipe it never writes to (`--stop-with-stdin`)."""
    return subprocess.Popen(
        background_command(name, "--nice", str(DELIVERY_NICENESS), "--stop-with-stdin"),
        env=os.environ.copy(),
        stdin=subprocess.PIPE,
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

    from app.platform.http.connections import BoundedConnections
    from app.platform.observability.logs import logging_config

    settings = get_settings()
    proxies = settings.trusted_proxies.strip()
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
        # Connections: a deadline for headers, a cap, idle ones cut; no `Server` header.
        http=BoundedConnections,
        timeout_keep_alive=settings.keep_alive_s,
        server_header=False,
        # The client's address (what failed authentications are throttled by) comes from
        # X-Forwarded-For only when the peer is a proxy named as trusted.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
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


NICE_OPTION = typer.Option(min=0, max=19, help="Lower this process's CPU priority by this much.")
STDIN_OPTION = typer.Option(
    "--stop-with-stdin",
    help="Stop (as on SIGTERM) when standard input ends: a supervisor holding the other end of a "
    "pipe takes this process with it however it exits, even killed.",
)


@cli.command()
def deliver(
    nice: Annotated[int, NICE_OPTION] = 0, stop_with_stdin: Annotated[bool, STDIN_OPTION] = False
) -> None:
    """Deliver webhooks until stopped (`serve` runs one; more share the work), and publish the
    events to NATS JetStream when LEADSTATUS_NATS_URL is set."""
    import asyncio

    from app.webhooks.delivery import run_delivery

    settings = _background(nice, stop_with_stdin)
    publisher = _publisher(settings, required=False)
    url = _database_url()

    async def loops() -> None:
        publishing = [publisher(url, settings)] if publisher else []
        await asyncio.gather(run_delivery(url, settings), *publishing)

    _run_until_stopped(loops())


@cli.command()
def publish(
    nice: Annotated[int, NICE_OPTION] = 0,
    stop_with_stdin: Annotated[bool, STDIN_OPTION] = False,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start",
            help="Publish every event the log keeps, from the oldest, instead of going on from "
            "the stream's cursor (a new stream's cursor starts at the log's end).",
        ),
    ] = False,
) -> None:
    """Publish the events log to NATS JetStream until stopped (LEADSTATUS_NATS_URL; `deliver`
    does it too; several take turns)."""

    settings = _background(nice, stop_with_stdin)
    publisher = _publisher(settings, required=True)
    assert publisher is not None
    url = _database_url()
    _run_until_stopped(publisher(url, settings, from_start=from_start))


def _run_until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """Run a background command's loop until SIGTERM (or Ctrl-C), then exit 143 (or 0).

    The event loop takes the signal and cancels the loop's task, so the stop comes on the loop,
    between two steps, and every `finally` runs in order (pools closed, lines written). A Python
    handler raising `SystemExit` would instead unwind from whatever line the main thread was
    running when the signal came, a library's own callback included."""
    import asyncio

    stopped = False

    async def main() -> None:
        nonlocal stopped
        task = asyncio.current_task()
        assert task is not None

        def stop() -> None:
            nonlocal stopped
            stopped = True
            task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
        await work

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return
    except asyncio.CancelledError:
        if not stopped:
            raise
    if stopped:
        sys.exit(128 + signal.SIGTERM)


def _background(nice: int, stop_with_stdin: bool) -> Settings:
    """What a background command does first: exit on SIGTERM (and at the end of its standard
    input, if asked), lower its priority, log lines."""
    import logging.config

    from app.platform.observability.logs import logging_config

    _exit_on_sigterm()
    if stop_with_stdin:
        _stop_at_end_of_stdin()
    if nice:
        os.nice(nice)
    settings = get_settings()
    logging.config.dictConfig(
        logging_config(wanted=settings.log_format, level=settings.log_level, stream=sys.stderr)
    )
    return settings


def _stop_at_end_of_stdin() -> None:
    """SIGTERM this process once standard input ends. `serve` holds the pipe's other end, which
    the kernel closes however `serve` ends, so a delivery process never outlives its service (an
    orphan would go on taking deliveries, with the settings of a service long gone)."""

    def watch() -> None:
        # The raw descriptor, not sys.stdin: a thread parked in a buffered read holds its lock.
        with contextlib.suppress(OSError):
            while os.read(sys.stdin.fileno(), 4096):
                pass  # nothing is ever sent: only the end counts
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


Publisher = Callable[..., Coroutine[Any, Any, None]]


def _publisher(settings: Settings, *, required: bool) -> Publisher | None:
    """The publishing loop's runner when LEADSTATUS_NATS_URL is set and nats-py installed;
    otherwise None (said in the log when the URL is set), or with `required` an exit."""
    if settings.nats_url is None:
        problem = "LEADSTATUS_NATS_URL is unset: nowhere to publish to."
    else:
        try:
            from app.publishing.publisher import run_publisher

            return run_publisher
        except ModuleNotFoundError as error:
            if (error.name or "").partition(".")[0] != "nats":
                raise
        problem = "LEADSTATUS_NATS_URL is set but needs nats-py: pip install 'leadstatus[nats]'"
        if not required:
            logging.getLogger("leadstatus.publishing").error("%s; not publishing", problem)
    if required:
        _say(problem)
        raise typer.Exit(2)
    return None


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
    if not summary.skipped:
        _tune_default_pipeline(url)


def _tune_default_pipeline(url: str) -> None:
    """Give a default pipeline nobody has edited the demo's forecast and hygiene properties,
    as its version 2; an edited one is the user's and stays as it is."""
    from app.demo.pipeline import demo_document
    from app.pipelines.cache import Workflows
    from app.pipelines.default import DEFAULT_PIPELINE
    from app.pipelines.service import apply_pipeline, get_pipeline

    current = run_on_database(lambda pool: get_pipeline(pool, name=DEFAULT_PIPELINE), url)
    if current["version"] != 1:
        _say("The default pipeline has been edited; the demo leaves it as it is.")
        return
    run_on_database(
        lambda pool: apply_pipeline(
            pool,
            Workflows(pool),
            name=DEFAULT_PIPELINE,
            body=demo_document(),
            if_match=1,
            created_by="demo",
        ),
        url,
    )
    _say(
        "The default pipeline now has win probabilities, stale_after_days and forecast"
        " categories per open status (version 2; GET /v1/workflow shows them)."
    )


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
