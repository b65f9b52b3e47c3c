"""PostgreSQL stops for 15 seconds under load and comes back; the service is not restarted.

While the database is away every request is answered within 5 s with a 503 problem and a
Retry-After; liveness stays 200 and readiness says 503. Within 5 s of its return requests succeed
again. Afterwards the history holds exactly the transitions that were answered 2xx: none that
was acknowledged is lost, none that was refused was written.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from tests.faults.conftest import OwnedServer
from tests.served import ServedProcess, serving

DOWN_S = 15.0
ANSWER_WITHIN_S = 5.0
RECOVER_WITHIN_S = 5.0
WORKERS = 8
LEADS_PER_WORKER = 4
MOVES = {
    "new": ("contacted", "call_connected"),
    "contacted": ("qualified", "need_confirmed"),
    "qualified": ("negotiating", "proposal_sent"),
    "negotiating": ("qualified", "scope_changed"),
}


@dataclass(frozen=True)
class Attempt:
    note: str
    sent: float
    answered: float
    status: int | None
    """None: no answer within ANSWER_WITHIN_S (or the connection broke)."""
    retry_after: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Probe:
    at: float
    healthz: int | None
    readyz: int | None


@pytest.fixture
def service(owned_database: str, secret_key: str) -> Iterator[ServedProcess]:
    with serving(owned_database, secret_key=secret_key) as served:
        yield served


async def _move_leads(
    client: httpx.AsyncClient, leads: list[str], stop: asyncio.Event, attempts: list[Attempt]
) -> None:
    """One client: moves its own leads round the workflow, retrying a refused move later."""
    status = dict.fromkeys(leads, "new")
    turn = 0
    while not stop.is_set():
        lead = leads[turn % len(leads)]
        turn += 1
        to, reason = MOVES[status[lead]]
        note = uuid.uuid4().hex
        sent = time.monotonic()
        try:
            r = await client.post(
                f"/v1/leads/{lead}/transitions", json={"to": to, "reason": reason, "note": note}
            )
        except httpx.HTTPError:
            attempts.append(Attempt(note, sent, time.monotonic(), None))
            continue
        attempts.append(
            Attempt(
                note,
                sent,
                time.monotonic(),
                r.status_code,
                r.headers.get("retry-after"),
                r.headers.get("content-type"),
            )
        )
        if r.status_code == 200:
            status[lead] = to
        else:
            await asyncio.sleep(0.05)


async def _probe(client: httpx.AsyncClient, stop: asyncio.Event, probes: list[Probe]) -> None:
    while not stop.is_set():
        codes: list[int | None] = []
        for path in ("/healthz", "/readyz"):
            try:
                codes.append((await client.get(path)).status_code)
            except httpx.HTTPError:
                codes.append(None)
        probes.append(Probe(time.monotonic(), codes[0], codes[1]))
        await asyncio.sleep(0.25)


async def test_a_database_outage_is_answered_503_and_loses_no_acknowledged_change(
    owned_server: OwnedServer, owned_database: str, owned_key: str, service: ServedProcess
) -> None:
    headers = {"Authorization": f"Bearer {owned_key}"}
    async with httpx.AsyncClient(
        base_url=service.url, headers=headers, timeout=ANSWER_WITHIN_S
    ) as client:
        leads = []
        for i in range(WORKERS * LEADS_PER_WORKER):
            r = await client.post("/v1/leads", json={"email": f"outage{i}@example.com"})
            assert r.status_code == 201
            leads.append(str(r.json()["id"]))

        stop = asyncio.Event()
        attempts: list[Attempt] = []
        probes: list[Probe] = []
        tasks = [
            asyncio.create_task(_move_leads(client, leads[w::WORKERS], stop, attempts))
            for w in range(WORKERS)
        ]
        tasks.append(asyncio.create_task(_probe(client, stop, probes)))
        await asyncio.sleep(3)
        await asyncio.to_thread(owned_server.stop)
        down = time.monotonic()
        await asyncio.sleep(DOWN_S)
        restarting = time.monotonic()
        await asyncio.to_thread(owned_server.start)
        up = time.monotonic()
        await asyncio.sleep(RECOVER_WITHIN_S + 3)
        stop.set()
        await asyncio.gather(*tasks)

    # Every request had its answer within the bound, and only these two answers exist.
    assert [a for a in attempts if a.status is None] == []
    assert max(a.answered - a.sent for a in attempts) <= ANSWER_WITHIN_S
    errors = [line[-300:] for line in service.log().splitlines() if "unexpected" in line]
    assert {a.status for a in attempts} == {200, 503}, (Counter(a.status for a in attempts), errors)

    # While the database was away: 503 problems with Retry-After, and nothing else.
    outage = [a for a in attempts if down <= a.sent and a.answered <= restarting]
    assert len(outage) > 100
    assert {(a.status, a.content_type) for a in outage} == {(503, "application/problem+json")}
    assert all(a.retry_after is not None and int(a.retry_after) > 0 for a in outage)
    outage_probes = [p for p in probes if down + 0.5 <= p.at <= restarting]
    assert outage_probes and {(p.healthz, p.readyz) for p in outage_probes} == {(200, 503)}

    # Back within the bound, with no restart of the service.
    first_ok = min(a.answered for a in attempts if a.status == 200 and a.sent >= up)
    assert first_ok - up <= RECOVER_WITHIN_S
    late = [a for a in attempts if a.sent >= up + RECOVER_WITHIN_S]
    assert late and {a.status for a in late} == {200}
    assert {p.readyz for p in probes if p.at >= up + RECOVER_WITHIN_S} == {200}
    assert service.proc is not None and service.proc.poll() is None

    # The history holds exactly what was acknowledged.
    conn = await asyncpg.connect(owned_database)
    try:
        written = {
            r["note"]
            for r in await conn.fetch(
                "SELECT note FROM lead_status_changes WHERE note = ANY($1::text[])",
                [a.note for a in attempts],
            )
        }
    finally:
        await conn.close()
    acknowledged = {a.note for a in attempts if a.status == 200}
    assert written == acknowledged
    assert len(acknowledged) > 100
    # No stack trace or SQL reached the log while the database was away.
    log = service.log()
    assert "Traceback" not in log and "INSERT INTO" not in log
