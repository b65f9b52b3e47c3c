"""API keys over HTTP: every `/v1` route needs a usable key with its scope; keys are hashed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, requires
from app.access.service import create_key, revoke_key
from app.pipelines.default import DEFAULT_DOCUMENT
from tests.http_support import assert_problem, create

# (method, path template, scope it needs, a body that passes validation where one is needed)
ROUTES: list[tuple[str, str, KeyScope, Any]] = [
    ("POST", "/v1/leads", KeyScope.LEADS_WRITE, {"email": "scope@example.com"}),
    ("GET", "/v1/leads", KeyScope.LEADS_READ, None),
    ("POST", "/v1/leads:batch", KeyScope.LEADS_WRITE, {"leads": [{"email": "b@example.com"}]}),
    (
        "POST",
        "/v1/leads:batch-transition",
        KeyScope.LEADS_WRITE,
        {"changes": [{"lead_id": 1, "to": "contacted", "reason": "call_connected"}]},
    ),
    ("GET", "/v1/leads/{lead_id}", KeyScope.LEADS_READ, None),
    ("PATCH", "/v1/leads/{lead_id}", KeyScope.LEADS_WRITE, {"company": "X"}),
    (
        "POST",
        "/v1/leads/{lead_id}/transitions",
        KeyScope.LEADS_WRITE,
        {"to": "contacted", "reason": "call_connected"},
    ),
    ("POST", "/v1/leads/{lead_id}/reopen", KeyScope.LEADS_REOPEN, {"reason": "needs_changed"}),
    ("GET", "/v1/leads/{lead_id}/history", KeyScope.LEADS_READ, None),
    ("GET", "/v1/workflow", KeyScope.LEADS_READ, None),
    ("GET", "/v1/pipelines", KeyScope.LEADS_READ, None),
    ("GET", "/v1/pipelines/{name}", KeyScope.LEADS_READ, None),
    ("PUT", "/v1/pipelines/{name}", KeyScope.ADMIN, DEFAULT_DOCUMENT),
    ("POST", "/v1/pipelines/{name}:validate", KeyScope.ADMIN, DEFAULT_DOCUMENT),
    ("GET", "/v1/pipelines/{name}/versions", KeyScope.LEADS_READ, None),
    ("GET", "/v1/pipelines/{name}/versions/{version}", KeyScope.LEADS_READ, None),
    *(
        ("GET", f"/v1/metrics/{name}", KeyScope.METRICS_READ, None)
        for name in (
            "summary",
            "loss-reasons",
            "revenue",
            "pipeline-value",
            "forecast",
            "hygiene",
            "owners",
            "sources",
            "funnel",
        )
    ),
    ("GET", "/v1/metrics/timeseries?metric=won&interval=day", KeyScope.METRICS_READ, None),
    ("GET", "/v1/events", KeyScope.LEADS_READ, None),
    ("POST", "/v1/webhooks", KeyScope.ADMIN, {"url": "http://127.0.0.1:9/hook"}),
    ("GET", "/v1/webhooks", KeyScope.ADMIN, None),
    ("GET", "/v1/webhooks/{endpoint_id}", KeyScope.ADMIN, None),
    ("PATCH", "/v1/webhooks/{endpoint_id}", KeyScope.ADMIN, {"description": "x"}),
    ("DELETE", "/v1/webhooks/{endpoint_id}", KeyScope.ADMIN, None),
    ("POST", "/v1/webhooks/{endpoint_id}/rotate-secret", KeyScope.ADMIN, None),
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries", KeyScope.ADMIN, None),
    (
        "POST",
        "/v1/webhooks/{endpoint_id}/recover?since=2026-01-01T00:00:00Z",
        KeyScope.ADMIN,
        None,
    ),
    ("POST", "/v1/webhooks/{endpoint_id}/resend", KeyScope.ADMIN, {"event_id": "evt_1"}),
]


def _methods(route: APIRoute) -> set[str]:
    """An APIRoute always has its methods; Starlette's Route, its base, types them Optional."""
    assert route.methods is not None
    return route.methods


def test_the_table_covers_every_keyed_route(app: FastAPI) -> None:
    served = {
        (method, route.path_format)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1/")
        for method in _methods(route)
        if not route.path.startswith("/v1/intake/")
    }
    listed = {(method, path.split("?")[0]) for method, path, _, _ in ROUTES}
    assert served == listed


def test_the_document_names_each_operations_scope(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for method, path, scope, _ in ROUTES:
        operation = paths[path.split("?")[0]][method.lower()]
        assert operation["security"] == [
            {"ApiKeyBearer": [scope.value]},
            {"ApiKeyHeader": [scope.value]},
        ], (method, path)


def test_a_keyed_route_cannot_be_built_without_its_scope() -> None:
    async def unmarked() -> None:
        return None

    with pytest.raises(TypeError, match="@requires"):
        KeyedRoute("/v1/unmarked", unmarked)
    assert KeyedRoute("/v1/marked", requires(KeyScope.LEADS_READ)(unmarked)).required_scope == (
        KeyScope.LEADS_READ
    )


async def test_a_refused_caller_learns_nothing_about_its_body(
    anonymous: httpx.AsyncClient,
) -> None:
    # The key is checked before the body is read: no key, a broken body, still 401.
    for path in ("/v1/leads", "/v1/leads/1/transitions", "/v1/leads:batch"):
        r = await anonymous.post(
            path, content=b'{"email": ', headers={"Content-Type": "application/json"}
        )
        assert_problem(r, 401, "unauthenticated")


async def _key(pool: asyncpg.Pool, name: str, *scopes: KeyScope, **extra: Any) -> str:
    _, key = await create_key(pool, name=name, scopes=scopes, expires_at=extra.get("expires_at"))
    return key


async def _call(
    c: httpx.AsyncClient, method: str, path: str, body: Any, lead_id: int, **headers: str
) -> httpx.Response:
    url = path.format(lead_id=lead_id, name="default", version=1, endpoint_id=1)
    return await c.request(method, url, json=body, headers=headers or None)


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
async def test_no_key_or_a_bad_one_is_401_with_a_challenge(
    anonymous: httpx.AsyncClient, method: str, path: str, scope: KeyScope, body: Any
) -> None:
    for headers in ({}, {"Authorization": "Bearer lsk_unknown"}, {"X-API-Key": "nonsense"}):
        r = await _call(anonymous, method, path, body, 1, **headers)
        assert_problem(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
async def test_each_route_needs_its_scope_and_names_the_missing_one(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    pool: asyncpg.Pool,
    method: str,
    path: str,
    scope: KeyScope,
    body: Any,
) -> None:
    lead = await create(client, "target@example.com")
    others = [s for s in KeyScope if s not in (scope, KeyScope.ADMIN)]
    lacking = await _key(pool, f"lacks-{scope.value}-{path}-{method}", *others)
    r = await _call(anonymous, method, path, body, lead["id"], Authorization=f"Bearer {lacking}")
    assert assert_problem(r, 403, "missing-scope")["missing_scope"] == scope.value
    enough = await _key(pool, f"has-{scope.value}-{path}-{method}", scope)
    r = await _call(anonymous, method, path, body, lead["id"], **{"X-API-Key": enough})
    assert r.status_code not in (401, 403), r.text


async def test_revoked_and_expired_keys_are_refused(
    anonymous: httpx.AsyncClient, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.access.service.CACHE_SECONDS", 0.0)
    key = await _key(pool, "soon-revoked", KeyScope.LEADS_READ)
    assert (await anonymous.get("/v1/workflow", headers={"X-API-Key": key})).status_code == 200
    await revoke_key(pool, "soon-revoked", now=datetime.now(UTC))
    assert_problem(await anonymous.get("/v1/workflow", headers={"X-API-Key": key}), 401)
    expired = await _key(pool, "expired", KeyScope.LEADS_READ)
    await pool.execute(
        "UPDATE api_keys SET expires_at = $1 WHERE name = 'expired'",
        datetime.now(UTC) - timedelta(seconds=1),
    )
    assert_problem(await anonymous.get("/v1/workflow", headers={"X-API-Key": expired}), 401)


async def test_open_endpoints_need_no_key(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/docs", "/openapi.json", "/problems/unauthenticated"):
        assert (await anonymous.get(path)).status_code == 200, path


async def test_api_keys_never_open_intake(
    client: httpx.AsyncClient, app: FastAPI, pool: asyncpg.Pool
) -> None:
    from tests.http_support import configure

    await configure(app, pool, "forms", "standard")
    r = await client.post("/v1/intake/forms", json={"data": {"email": "k@example.com"}})
    assert_problem(r, 401, "signature-refused")


async def test_only_a_hash_of_a_key_is_stored_or_logged(
    anonymous: httpx.AsyncClient, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = await _key(pool, "hashed", KeyScope.LEADS_READ)
    assert (await anonymous.get("/v1/leads", headers={"X-API-Key": key})).status_code == 200
    assert_problem(await anonymous.get("/v1/metrics/summary", headers={"X-API-Key": key}), 403)
    stored = await pool.fetchval("SELECT string_agg(k::text, ' ') FROM api_keys k")
    assert key not in stored and key[4:] not in stored
    assert key not in caplog.text


async def test_history_records_the_key_beside_the_actor_and_filters_on_both(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    crm = await _key(pool, "crm-app", KeyScope.LEADS_WRITE, KeyScope.LEADS_READ)
    lead = await create(client, "attrib@example.com")
    moves = [
        ("contacted", "call_connected", "ana", client),
        ("qualified", "need_confirmed", "bo", anonymous),
    ]
    for to, reason, actor, via in moves:
        headers = {"X-API-Key": crm} if via is anonymous else None
        r = await via.post(
            f"/v1/leads/{lead['id']}/transitions",
            json={"to": to, "reason": reason, "actor": actor},
            headers=headers,
        )
        assert r.status_code == 200, r.text
    history = (await client.get(f"/v1/leads/{lead['id']}/history")).json()
    assert [(h["actor"], h["api_key"]) for h in history] == [
        ("ana", "suite-admin"),
        ("bo", "crm-app"),
    ]
    by_key = await client.get(f"/v1/leads/{lead['id']}/history", params={"api_key": "crm-app"})
    assert [h["to"] for h in by_key.json()] == ["qualified"]
    by_actor = await client.get(f"/v1/leads/{lead['id']}/history", params={"actor": "ana"})
    assert [h["to"] for h in by_actor.json()] == ["contacted"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/leads", {"email": "m@example.com", "api_key": "admin"}),
        ("POST", "/v1/leads", {"email": "m@example.com", "previous_lead_id": 1}),
        ("PATCH", "/v1/leads/{lead_id}", {"version": 9}),
        ("PATCH", "/v1/leads/{lead_id}", {"status": "won"}),
        (
            "POST",
            "/v1/leads/{lead_id}/transitions",
            {"to": "contacted", "reason": "call_connected", "api_key": "x"},
        ),
        (
            "POST",
            "/v1/leads/{lead_id}/transitions",
            {"to": "contacted", "reason": "call_connected", "version": 1},
        ),
        ("POST", "/v1/leads/{lead_id}/reopen", {"reason": "needs_changed", "reopen_count": 0}),
    ],
)
async def test_mass_assignment_is_refused_on_every_write(
    client: httpx.AsyncClient, pool: asyncpg.Pool, method: str, path: str, body: Any
) -> None:
    lead = await create(client, "mass@example.com")
    before = await pool.fetchrow("SELECT * FROM leads WHERE id = $1", lead["id"])
    r = await client.request(method, path.format(lead_id=lead["id"]), json=body)
    assert_problem(r, 422)
    assert await pool.fetchrow("SELECT * FROM leads WHERE id = $1", lead["id"]) == before
    assert await pool.fetchval("SELECT count(*) FROM leads") == 1


async def test_mass_assignment_in_a_batch_rejects_that_item_only(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/v1/leads:batch",
        json={"leads": [{"email": "ok@example.com"}, {"email": "no@example.com", "id": 5}]},
    )
    assert [i["result"] for i in r.json()["items"]] == ["created", "rejected"]


async def test_intake_payloads_cannot_set_workflow_or_owner_fields(
    app: FastAPI, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    from tests.http_support import configure

    secret = await configure(app, pool, "mkto", "marketo", default_owner="alex")
    body = {"email": "sneak@example.com", "status": "won", "owner": "mallory", "id": "7"}
    r = await client.post("/v1/intake/mkto", json=body, headers={"x-webhook-secret": secret})
    assert r.status_code == 200, r.text
    lead = (await client.get(f"/v1/leads/{r.json()['lead_id']}")).json()
    assert (lead["status"], lead["owner"], lead["version"]) == ("new", "alex", 1)
