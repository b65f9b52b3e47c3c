"""Crashes under a write load, each followed by a restart: PostgreSQL stopped with `-m immediate`
(no checkpoint; the next start recovers from the WAL), four times, and the service killed with
SIGKILL.

Clients create leads and move them step by step, every other request with an Idempotency-Key of
its own. The database delays each commit's flush (`commit_delay`), so a crash is likely to meet
commits in flight, the case where the service cannot know what was saved. Afterwards:
- every create and status change answered 2xx is in the database, as answered;
- no change answered with a refusal or with "nothing was changed" is;
- a change answered `outcome-unknown`, or not answered at all, may be either: sent again with its
  key (when it had one), it gets the answer of what was saved, or is done then, and it has
  exactly one effect;
- each lead's status is where its history's last change left it.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest

from tests.databases import admin, migrated_database
from tests.faults.conftest import OwnedServer, admin_key_on
from tests.faults.write_load import Sent, WriteLoad
from tests.served import ServedProcess, serving

CRASHES = 4
BETWEEN_S = 1.5
"""Load before each crash, and after each restart before the next."""
WAIT_S = 30.0
UNKNOWN = "outcome-unknown"


COMMIT_DELAY_US = 20_000
"""How long each commit waits before its flush: most of a request's time is then its commit."""


@pytest.fixture(scope="module")
def slow_commits(owned_server: OwnedServer) -> str:
    """A database of its own on the owned server, whose commits are slow to flush."""
    url = migrated_database(owned_server.url, "crashes")
    for setting in (f"commit_delay = {COMMIT_DELAY_US}", "commit_siblings = 0"):
        asyncio.run(admin(url, f"ALTER DATABASE crashes SET {setting}"))
    return url


@pytest.fixture(scope="module")
async def crash_key(slow_commits: str) -> str:
    return await admin_key_on(slow_commits, "crashes")


@pytest.fixture
def served(slow_commits: str, secret_key: str) -> Iterator[ServedProcess]:
    with serving(slow_commits, secret_key=secret_key) as process:
        yield process


@pytest.fixture
async def api(served: ServedProcess, crash_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with served.client(crash_key) as client:
        yield client


async def _acknowledged_after(load: WriteLoad, count: int) -> None:
    """Wait until the load has been acknowledged past `count` answers."""
    deadline = time.monotonic() + WAIT_S
    while sum(s.acknowledged for s in load.sent[count:]) < 5:
        assert time.monotonic() < deadline, "the load got no acknowledgement"
        await asyncio.sleep(0.05)


async def _under_load(
    api: httpx.AsyncClient, crash_and_restart: Callable[[], Awaitable[None]], times: int
) -> WriteLoad:
    load, stop = WriteLoad(api, workers=4, pause_s=0.01, keyed=True), asyncio.Event()
    writing = asyncio.create_task(load.run(stop))
    try:
        for _ in range(times):
            await _acknowledged_after(load, len(load.sent))
            await asyncio.sleep(BETWEEN_S)
            await crash_and_restart()
        await _acknowledged_after(load, len(load.sent))
    finally:
        stop.set()
        await writing
    return load


async def _effects(conn: asyncpg.Connection, load: WriteLoad) -> dict[str, int]:
    """How many times each request's change is in the database: a create by its email, a
    status change by its note."""
    emails = [s.tag for s in load.sent if "email" in s.body]
    notes = [s.tag for s in load.sent if "note" in s.body]
    rows = await conn.fetch(
        "SELECT email AS tag, count(*) AS n FROM leads WHERE email = ANY($1) GROUP BY email"
        " UNION ALL"
        " SELECT note, count(*) FROM lead_status_changes WHERE note = ANY($2) GROUP BY note",
        emails,
        notes,
    )
    return {row["tag"]: row["n"] for row in rows}


def _unknown(sent: Sent) -> bool:
    return sent.status is None or sent.problem == UNKNOWN


async def _retry(api: httpx.AsyncClient, sent: Sent) -> httpx.Response:
    """`sent` again with its key; while the session of a killed process still holds the key
    (until its server notices the client is gone), the answer is 409 in-use: wait and retry."""
    assert sent.key is not None
    deadline = time.monotonic() + WAIT_S
    while True:
        r = await api.post(sent.path, json=sent.body, headers={"Idempotency-Key": sent.key})
        if r.status_code != 409 or not r.json()["type"].endswith("idempotency-key-in-use"):
            return r
        assert time.monotonic() < deadline, "the key stayed in use"
        await asyncio.sleep(0.2)


async def _check(load: WriteLoad, api: httpx.AsyncClient, database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        effects = await _effects(conn, load)
        acknowledged = [s for s in load.sent if s.acknowledged]
        assert acknowledged and [s.tag for s in acknowledged if effects.get(s.tag) != 1] == []
        # An acknowledged change is there as it was answered: the lead's version then.
        for s in acknowledged:
            if "note" in s.body:
                assert (
                    await conn.fetchval(
                        "SELECT count(*) FROM lead_status_changes WHERE note = $1 AND lead_id = $2",
                        s.tag,
                        s.lead_id,
                    )
                    == 1
                )
        failed = [s for s in load.sent if not s.acknowledged and not _unknown(s)]
        assert failed, "no request was refused or failed"
        assert [(s.tag, s.status, s.problem) for s in failed if s.tag in effects] == []
        # What failed for the crash itself is a 503 that said so.
        assert {s.problem for s in failed if s.refusal is None} <= {
            "database-unavailable",
            "request-timeout",
        }
        assert {s.status for s in load.sent if s.problem == UNKNOWN} <= {503}

        unknown = [s for s in load.sent if _unknown(s)]
        import collections

        print(
            "STATS",
            len(load.sent),
            len(acknowledged),
            collections.Counter(
                (s.status, s.problem, s.key is not None)
                for s in load.sent
                if not s.acknowledged and s.refusal is None
            ),
        )
        for s in unknown:
            if s.key is None:
                continue
            retried = await _retry(api, s)
            expected = (s.refusal or 200) if "note" in s.body else 201
            assert retried.status_code == expected, (s, retried.text)
        effects = await _effects(conn, load)
        keyed = [s for s in unknown if s.key is not None and s.refusal is None]
        assert {s.tag: effects.get(s.tag) for s in keyed} == {s.tag: 1 for s in keyed}
        # Unkeyed, a create that may have been saved is there once at most (one open lead per
        # email), and a status change once at most (its lead's worker moved it no further).
        assert [s.tag for s in unknown if effects.get(s.tag, 0) > 1] == []

        # Each lead is where its history's last change left it (or new, with none).
        astray = await conn.fetch(
            "SELECT l.id, l.status, last.to_status FROM leads l"
            " LEFT JOIN LATERAL (SELECT to_status FROM lead_status_changes c"
            "   WHERE c.lead_id = l.id ORDER BY c.id DESC LIMIT 1) last ON true"
            " WHERE l.email = ANY($1) AND l.status <> coalesce(last.to_status, 'new')",
            [s.tag for s in load.sent if "email" in s.body],
        )
        assert astray == []
    finally:
        await conn.close()


async def test_postgresql_crashing_under_load_loses_no_acknowledged_change(
    api: httpx.AsyncClient, owned_server: OwnedServer, slow_commits: str
) -> None:
    async def crash_and_restart() -> None:
        await asyncio.to_thread(owned_server.crash)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(owned_server.start)

    load = await _under_load(api, crash_and_restart, CRASHES)
    assert [s for s in load.sent if s.status == 503], "the crashes met no request"
    await _check(load, api, slow_commits)


async def test_a_killed_service_loses_no_acknowledged_change(
    api: httpx.AsyncClient, served: ServedProcess, slow_commits: str
) -> None:
    async def kill_and_restart() -> None:
        served.signal(signal.SIGKILL)
        assert served.proc is not None
        await asyncio.to_thread(served.proc.wait)
        await asyncio.to_thread(served.start)

    load = await _under_load(api, kill_and_restart, 1)
    assert [s for s in load.sent if s.status is None and s.key], "the kill cut no request short"
    await _check(load, api, slow_commits)
