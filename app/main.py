"""The application factory: pool lifecycle, routers, error handling, offline API docs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline

from app import __doc__ as about
from app.access.http import document_security
from app.access.service import KeyRing
from app.dashboard import routes as dashboard
from app.events import routes as events
from app.events.service import announce_forever
from app.intake import routes as intake
from app.leads import batch_routes as batch
from app.leads import routes as leads
from app.leads.auto_close import close_stale_forever
from app.leads.schemas import document_currency
from app.metrics import routes as metrics
from app.metrics.folding import fold_forever
from app.pipelines import routes as pipelines
from app.pipelines import workflow_routes as workflow
from app.pipelines.cache import Workflows
from app.platform.db import close_pools, create_pool, resolve_database_url
from app.platform.errors import SchemaNotCurrent
from app.platform.http import problem_routes, problem_types, problems
from app.platform.http.limits import RequestLimits
from app.platform.http.nullables import simplify_nullables
from app.platform.http.operation_ids import operation_id
from app.platform.http.requests import primary_pool
from app.platform.http.schema_names import name_request_bodies, sort_components
from app.platform.observability.metrics import Instruments
from app.platform.observability.middleware import RequestObserver
from app.platform.sealing import sealer_for
from app.platform.settings import Settings, get_settings
from app.retention import prune_forever
from app.webhooks import routes as webhooks

VERSION = "0.1.0"
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
SCHEMA_REVISION = "0026"
"""The alembic head this code is written against (a test keeps it in step with alembic/)."""
DESCRIPTION = """
Owns the status of sales leads. Every lead moves through one workflow (see `GET /v1/workflow`),
and every status change carries a **standardized reason code**, so win rates and loss reasons can
be counted. Closed-lost, no-decision and recycled deals can be **reopened**; the history keeps
every change.

* Create leads with `POST /v1/leads`; move them with `POST /v1/leads/{id}/transitions`.
* Every `/v1` call needs an API key (`Authorization: Bearer lsk_...` or `X-API-Key`) with the
  scope it names; in this page, the **Authorize** button takes it. `make run` prints a
  development key.
* Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) `application/problem+json`;
  each `type` resolves under `/problems/{type}`.
* Reads return an `ETag` (the lead's version); send it as `If-Match` to change a lead only if
  nobody else did meanwhile (412 otherwise).
"""

# ReDoc 2.x always draws Redocly's logo from its CDN; this policy keeps the page offline.
REDOC_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'"
)

TAGS = [
    {
        "name": "leads",
        "description": "Create, read, list and change leads; move them through the workflow.",
    },
    {
        "name": "metrics",
        "description": "Win rates, loss reasons, rep and source quality, funnel, trends; "
        "computed from the status history.",
    },
    {
        "name": "intake",
        "description": "Signed webhooks from marketing tools (Standard Webhooks, HubSpot, "
        "Marketo, Mailchimp): each event exactly once, people deduplicated.",
    },
    {"name": "workflow", "description": "The statuses, moves and reason codes, as data."},
    {
        "name": "events",
        "description": "Every change as an event, in order: the log to catch up from.",
    },
    {
        "name": "webhooks",
        "description": "Endpoints the events are POSTed to, signed (Standard Webhooks), at least "
        "once, with retries for about three days and a record of every attempt.",
    },
    {
        "name": "health",
        "description": "Liveness and readiness for orchestrators; metrics for Prometheus.",
    },
    {"name": "problems", "description": "What each error `type` means."},
]


def _mount(app: FastAPI, router: APIRouter) -> None:
    """Add a router's routes to the app's own table.

    `include_router()` keeps each router as a nested dispatch layer, a cost on every request
    (docs/performance.md has the figure); the routes already carry their prefix,
    tags and documented responses. Their operation ids follow the app's rule (a router made its
    own by FastAPI's default one).
    """
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.operation_id = route.operation_id or operation_id(route)
    app.router.routes.extend(router.routes)


log = logging.getLogger("leadstatus.database")

FOLD_CONNECTION = "leadstatus-fold"
"""The application name of the metrics fold's connection, as `pg_stat_activity` shows it."""


RETRY_CONNECT_S = (1.0, 10.0)
"""The first and the longest wait between attempts to reach a database that was down at start."""


async def _connect_when_reachable(
    app: FastAPI,
    url: str,
    settings: Settings,
    running: list[asyncio.Task[None]],
    pools: list[asyncpg.Pool],
) -> None:
    wait, longest = RETRY_CONNECT_S
    while True:
        await asyncio.sleep(wait)
        try:
            await _connect(app, url, settings, running, pools)
        except problems.DATABASE_DOWN as down:
            log.info("database still not reachable (%s)", type(down).__name__)
            wait = min(wait * 2, longest)
        else:
            log.warning("database reachable: serving")
            return


async def _connect(
    app: FastAPI,
    url: str,
    settings: Settings,
    running: list[asyncio.Task[None]],
    pools: list[asyncpg.Pool],
) -> None:
    """Open the pools and start the loops that work on the database; the request pool is put
    in place last, so a request sees either no database or all of it."""
    opened: list[asyncpg.Pool] = []
    try:
        pool = await create_pool(url, settings)
        opened.append(pool)
        read_url = settings.database_read_url
        read = await create_pool(read_url.get_secret_value(), settings) if read_url else pool
        opened.append(read)
        # The fold runs on a connection of its own: a VACUUM of the tables it reads invalidates
        # its plan (tens of milliseconds to make again) on every connection that holds one, and
        # on a pooled connection it would also take a request's place.
        fold_pool = await create_pool(url, settings, size=1, name=FOLD_CONNECTION)
        opened.append(fold_pool)
    except BaseException:
        await close_pools(*set(opened))
        raise
    pools.extend(opened)
    app.state.keyring = KeyRing(pool)
    app.state.read_pool = read
    app.state.pool = pool
    # Everything built so far lives as long as the process: keep it out of every future
    # garbage collection, so full collections stay short and off the latency tail.
    gc.collect()
    gc.freeze()
    running.extend(
        asyncio.create_task(loop)
        for loop in (
            fold_forever(fold_pool, settings.fold_interval_s, settings.metrics_vacuum_interval_s),
            app.state.keyring.flush_forever(),
            announce_forever(pool),
            *(
                [
                    close_stale_forever(
                        pool,
                        app.state.workflows,
                        interval_s=settings.auto_close_interval_s,
                        on_recorded=app.state.instruments.count_status_change,
                    )
                ]
                if settings.auto_close_interval_s > 0
                else []
            ),
            prune_forever(
                pool,
                intake_retention=timedelta(days=settings.intake_retention_days),
                events_retention=timedelta(days=settings.events_retention_days),
            ),
        )
    )


def create_app(*, settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the app; the pool opens on startup against `database_url` (or the settings')."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        app.state.pool = app.state.read_pool = app.state.keyring = None
        running: list[asyncio.Task[None]] = []
        pools: list[asyncpg.Pool] = []
        try:
            await _connect(app, url, settings, running, pools)
        except problems.DATABASE_DOWN as down:
            # Serve unready (every call 503, /readyz too) and keep trying, rather than exit: a
            # supervisor starting the service and its database together need not order them.
            log.warning(
                "database not reachable at startup (%s): serving unready, retrying",
                type(down).__name__,
            )
            running.append(
                asyncio.create_task(_connect_when_reachable(app, url, settings, running, pools))
            )
        try:
            yield
        finally:
            while running:
                task = running.pop()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if app.state.keyring is not None:
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await app.state.keyring.flush_uses()
            # A set: without a replica the read pool is the request pool.
            await close_pools(*set(pools))

    app = FastAPIOffline(
        title="leadstatus",
        version=VERSION,
        summary=(about or "").strip(),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_parameters={"displayRequestDuration": True, "tryItOutEnabled": False},
        telemetry=None if settings.opentelemetry else NO_TELEMETRY,
        generate_unique_id_function=operation_id,
    )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}/static-offline-docs/redoc.standalone.js",
            redoc_favicon_url=f"{root}/static-offline-docs/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = REDOC_CSP
        return page

    app.state.settings = settings
    app.state.sealer = sealer_for(settings)
    app.state.workflows = Workflows(lambda: app.state.pool)
    instruments = app.state.instruments = Instruments(app.state)
    problems.install(app)
    # The framework's document as the problem library leaves it, then described further.
    plain_openapi = app.openapi

    def documented_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain_openapi()
            for step in (
                partial(document_security, routes=app.routes),
                problem_types.document_outcome_unknown,
                problem_types.document_unrouted,
                problem_types.document_response_headers,
                problem_types.document_problem_schemas,
                document_currency,
                name_request_bodies,
                webhooks.describe_receivers,
                simplify_nullables,
                sort_components,
            ):
                schema = step(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = documented_openapi  # type: ignore[method-assign]
    # Outermost: a refused body never reaches a route, a late request is cancelled wherever it is.
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        timeout_s=settings.request_timeout_s,
    )
    # Outside even that: a refusal by the limits layer gets a request id, a count and a line.
    app.add_middleware(RequestObserver, instruments=instruments)
    routers = (
        leads.router,
        batch.router,
        metrics.router,
        intake.router,
        workflow.router,
        pipelines.router,
        events.router,
        webhooks.router,
        problem_routes.router,
        dashboard.router,
    )
    for router in routers:
        _mount(app, router)
    webhooks.document_webhooks(app)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness",
        description="The process answers; the database is not consulted.",
    )
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness",
        description="The database answers and its schema is the one this code expects (the "
        "migrations are at head). 503 (problem+json) when either is not so.",
        responses=problem_types.responses(
            problem_types.UNAVAILABLE, problem_types.SCHEMA_NOT_CURRENT
        ),
    )
    async def readiness(request: Request) -> JSONResponse:
        async with primary_pool(request).acquire() as conn:
            revision = await conn.fetchval("SELECT max(version_num) FROM alembic_version")
        if revision != SCHEMA_REVISION:
            raise SchemaNotCurrent(
                f"The database schema is at {revision or 'no revision'}; this code needs "
                f"{SCHEMA_REVISION}: run `leadstatus migrate`.",
                schema_revision=revision,
                required_revision=SCHEMA_REVISION,
            )
        return JSONResponse({"status": "ready", "schema_revision": revision})

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        description="Requests by route template, method and status (count and latency), the "
        "database pool's connections, status changes by from, to and reason, intake events by "
        "source and outcome, in the Prometheus text format (OpenMetrics when the `Accept` header "
        "asks for it). Needs no API key, like `/healthz` and `/readyz`: the scraper runs inside "
        "the network; do not expose this path publicly.",
        response_class=PlainTextResponse,
        responses={
            200: {
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    "application/openmetrics-text": {"schema": {"type": "string"}},
                }
            }
        },
    )
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = instruments.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return app
