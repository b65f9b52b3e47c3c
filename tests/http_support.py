"""What the HTTP tests of several features share: the problem check, creating and moving a lead,
and an intake source to deliver to."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from app.intake.secrets import keeper_for
from app.intake.sources import add_source

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, type_: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if type_ is not None:
        assert body["type"] == f"/problems/{type_}"
    assert "Traceback" not in r.text and "SELECT" not in r.text
    return body


async def create(client: httpx.AsyncClient, email: str, **fields: Any) -> dict[str, Any]:
    r = await client.post("/v1/leads", json={"email": email, **fields})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def move(
    client: httpx.AsyncClient, lead_id: int, to: str, reason: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/leads/{lead_id}/transitions", json={"to": to, "reason": reason, **extra}
    )


async def configure(
    app: FastAPI, pool: asyncpg.Pool, name: str, kind: str, secret: str | None = None, **extra: Any
) -> str:
    source = {"name": name, "kind": kind, "lead_source": extra.pop("lead_source", name), **extra}
    _, plain = await add_source(pool, keeper_for(app.state.settings), source, secret)
    return plain
