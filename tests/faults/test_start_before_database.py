"""The service starts while its PostgreSQL is down, serves unready, and is ready once it is up.

A supervisor that starts the service and its database together need not order them: the process
answers liveness at once, refuses every call with a 503 problem and a Retry-After (readiness
too), keeps trying to reach the database, and serves normally soon after the database answers.
"""

from __future__ import annotations

import time
import uuid

import httpx

from tests.faults.conftest import OwnedServer
from tests.served import ServedProcess

READY_WITHIN_S = 20.0
"""The retry waits double from 1 s up to 10 s; the database is away about 5 s here."""


def _problem(r: httpx.Response, status: int, type_: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"/problems/{type_}"


def test_the_service_starts_before_its_database(
    owned_server: OwnedServer, owned_database: str, owned_key: str, secret_key: str
) -> None:
    owned_server.stop()
    served = ServedProcess(owned_database, LEADSTATUS_SECRET_KEY=secret_key)
    try:
        served.start()  # returns once /healthz answers: it did not exit
        with httpx.Client(
            base_url=served.url, headers={"Authorization": f"Bearer {owned_key}"}, timeout=10
        ) as client:
            assert client.get("/healthz").status_code == 200
            _problem(client.get("/readyz"), 503, "database-unavailable")
            lead = {"email": "early@example.com", "owner": f"early-{uuid.uuid4().hex}"}
            refused = client.post("/v1/leads", json=lead)
            _problem(refused, 503, "database-unavailable")
            assert int(refused.headers["retry-after"]) > 0
            assert "nothing was changed" in refused.json()["detail"]

            time.sleep(3)
            owned_server.start()
            deadline = time.monotonic() + READY_WITHIN_S
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, served.log()[-2000:]
                time.sleep(0.25)
            created = client.post("/v1/leads", json=lead)
            assert created.status_code == 201, created.text
            # The refused create wrote nothing: only this one has the owner.
            found = client.get("/v1/leads", params={"owner": lead["owner"]}).json()
            assert [lead["id"] for lead in found["items"]] == [created.json()["id"]]
        assert served.stop() in {0, 143}
    finally:
        owned_server.start()
        if served.proc is not None and served.proc.poll() is None:
            served.stop()
