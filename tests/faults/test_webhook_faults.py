"""Webhook delivery through the faults of receivers and of the database, on a served process
(`leadstatus serve` and the `leadstatus deliver` beside it) under a steady write load.

A receiver down, answering 500s, holding requests past the attempt's time limit, closing the
connection on them, and one answering 410; then PostgreSQL stopped, and crashed, mid-load.
Afterwards each receiver is counted against the events log and what the clients were told:
every event of an acknowledged change arrived, signed, with its log id as `webhook-id`; no
event arrived, or was logged, for a refused change; an event arrived more than once only where
an attempt was cut, each time with the same id and body.

The retry schedule waits 5 s, 30 s, 2 min, ...: once a receiver is healed the test makes what is
due later due now (`next_attempt_at`), which moves the clock rather than faking a delivery.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest

from tests.faults.conftest import OwnedServer
from tests.faults.delivery_count import (
    Endpoint,
    assert_the_log_arrived,
    cut_short,
    errors_of,
    logged_since,
    tally,
)
from tests.faults.write_load import WriteLoad
from tests.served import ServedProcess, free_port
from tests.webhooks.receiver import Conduct, serving

PHASE_S = 2.0
"""Each fault lasts at least this long under the load."""
WAIT_S = 30.0
"""The longest any one awaited sign may take before the test fails (an attempt's limit is 10 s)."""
SETTLE_S = 60.0
SLOW_ANSWER_S = 2.0
"""An answer slower than stopping the database takes, faster than the attempt's limit."""
ROUND_FAILED = "delivering webhooks failed"
"""What the delivery process logs of a round the database's absence cut short."""


@pytest.fixture
async def owned_pool(owned_database: str) -> AsyncIterator[asyncpg.Pool]:
    """Connections to the owned database, opened as needed (the server goes and comes back)."""
    pool = await asyncpg.create_pool(owned_database, min_size=0, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()
        # Left in place, a later test's delivery process would go on sending to them.
        conn = await asyncpg.connect(owned_database)
        try:
            await conn.execute("DELETE FROM webhook_endpoints")
        finally:
            await conn.close()


@pytest.fixture
async def served(
    owned_pool: asyncpg.Pool, owned_database: str, secret_key: str
) -> AsyncIterator[ServedProcess]:
    """A served process on the owned database, which may deliver to loopback."""
    process = ServedProcess(
        owned_database,
        LEADSTATUS_SECRET_KEY=secret_key,
        LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS="127.0.0.1",
        LEADSTATUS_WEBHOOK_POLL_INTERVAL_S="0.2",
    )
    await asyncio.to_thread(process.start)
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


@pytest.fixture
async def api(served: ServedProcess, owned_key: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {owned_key}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=10) as client:
        yield client


async def until(sign: Callable[[], object], what: str, within_s: float = WAIT_S) -> None:
    """Wait for `sign()` to hold (it may be a coroutine function); fail saying `what`."""
    deadline = time.monotonic() + within_s
    while True:
        held = sign()
        if asyncio.iscoroutine(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within_s:g} s for {what}")
        await asyncio.sleep(0.05)


async def subscribe(api: httpx.AsyncClient, url: str) -> Endpoint:
    r = await api.post("/v1/webhooks", json={"url": url})
    assert r.status_code == 201, r.text
    return Endpoint(r.json()["id"], r.json()["secret"])


async def settle(pool: asyncpg.Pool, endpoints: list[Endpoint], events: int) -> None:
    """Make every pending delivery due at once, until each endpoint has taken `events`."""

    async def delivered() -> bool:
        await pool.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = now()"
            " WHERE state = 'pending' AND next_attempt_at > now()"
        )
        counts = await pool.fetch(
            "SELECT count(*) FILTER (WHERE state = 'delivered') AS done,"
            " count(*) FILTER (WHERE state <> 'delivered') AS other"
            " FROM webhook_deliveries WHERE endpoint_id = ANY($1::bigint[]) GROUP BY endpoint_id",
            [e.id for e in endpoints],
        )
        return len(counts) == len(endpoints) and all(
            (c["done"], c["other"]) == (events, 0) for c in counts
        )

    await until(delivered, f"{events} events delivered to each endpoint", SETTLE_S)


async def recorded(pool: asyncpg.Pool, endpoint: Endpoint, error: str) -> bool:
    return error in await errors_of(pool, endpoint)


async def phase(sign: Callable[[], object], what: str) -> None:
    """Let a fault last until `sign` shows it was met, and at least PHASE_S."""
    started = time.monotonic()
    await until(sign, what)
    await asyncio.sleep(max(0.0, PHASE_S - (time.monotonic() - started)))


async def test_a_receiver_down_failing_slow_cutting_or_gone_misses_nothing(
    api: httpx.AsyncClient, owned_pool: asyncpg.Pool, served: ServedProcess
) -> None:
    start = await owned_pool.fetchval("SELECT coalesce(max(id), 0) FROM events")
    port = free_port()
    flaky = await subscribe(api, f"http://127.0.0.1:{port}/hooks/leads")
    load, stop = WriteLoad(api), asyncio.Event()
    async with serving() as gone_receiver:
        gone = await subscribe(api, gone_receiver.url)
        gone.receiver = gone_receiver
        writing = asyncio.create_task(load.run(stop))
        try:
            await phase(
                lambda: recorded(
                    owned_pool, flaky, "connection failed (could not connect: Connection refused)"
                ),
                "an attempt at the closed port",
            )
            async with serving(port) as receiver:
                flaky.receiver = receiver
                receiver.status, gone_receiver.status = 500, 410
                await phase(lambda: 500 in [q.answer for q in receiver.requests], "a 500")

                async def disabled() -> bool:
                    return (await api.get(f"/v1/webhooks/{gone.id}")).json()["enabled"] is False

                await until(disabled, "the endpoint answering 410 disabled")
                gone_receiver.status = 204
                reached_while_off = len(gone_receiver.requests)

                receiver.conduct = Conduct.HOLD
                await until(
                    lambda: any(q.conduct is Conduct.HOLD for q in receiver.requests),
                    "a request to hold",
                )
                receiver.conduct = Conduct.CUT
                await until(lambda: any(q.hung_up for q in receiver.requests), "a sender giving up")
                await phase(
                    lambda: any(q.conduct is Conduct.CUT for q in receiver.requests),
                    "a request to cut",
                )
                receiver.conduct, receiver.status = Conduct.ANSWER, 204
                await asyncio.sleep(PHASE_S)

                assert len(gone_receiver.requests) == reached_while_off
                off = (await api.get(f"/v1/webhooks/{gone.id}")).json()
                assert "410" in off["disabled_reason"] and off["disabled_at"] is not None
                r = await api.patch(f"/v1/webhooks/{gone.id}", json={"enabled": True})
                assert (r.json()["enabled"], r.json()["disabled_reason"]) == (True, None)
                stop.set()
                await writing
                log = await logged_since(owned_pool, start)
                await settle(owned_pool, [flaky, gone], len(log))
        finally:
            stop.set()
            await writing

    # The load ran through it all, and the workflow refused what it had to.
    assert len(load.acknowledged()) > 50 and load.refused()
    assert [s for s in load.sent if s.refusal is None and not s.acknowledged] == []
    assert [s for s in load.sent if s.refusal is not None and s.status != s.refusal] == []
    # The service met every fault.
    assert await errors_of(owned_pool, flaky) == {
        "connection failed (could not connect: Connection refused)",
        "HTTP 500",
        "no answer within 10 s",
        "connection failed (closed before an answer)",
    }
    assert await errors_of(owned_pool, gone) == {"HTTP 410"}
    for endpoint in (flaky, gone):
        got = tally(endpoint)
        assert_the_log_arrived(got, log, load)
        # No crash here: every event was taken once; its other tries were refused or cut.
        assert {tag: g.answers for tag, g in got.items() if g.taken != 1} == {}
        assert any(len(g.answers) > 1 for g in got.values())
    assert "Traceback" not in served.log()


async def test_postgresql_stopped_or_crashed_under_load_loses_no_acknowledged_event(
    api: httpx.AsyncClient,
    owned_pool: asyncpg.Pool,
    owned_server: OwnedServer,
    served: ServedProcess,
) -> None:
    start = await owned_pool.fetchval("SELECT coalesce(max(id), 0) FROM events")
    load, stop = WriteLoad(api), asyncio.Event()
    outages: list[range] = []
    async with serving() as receiver:
        endpoint = await subscribe(api, receiver.url)
        endpoint.receiver = receiver
        writing = asyncio.create_task(load.run(stop))
        try:

            def received_past(count: int) -> Callable[[], bool]:
                return lambda: len(receiver.requests) > count

            def rounds_failed_past(count: int) -> Callable[[], bool]:
                return lambda: served.log().count(ROUND_FAILED) > count

            for halt in (owned_server.stop, owned_server.crash, None):
                await phase(received_past(len(receiver.requests) + 10), "deliveries going")
                if halt is None:
                    break
                # An attempt in flight, which the receiver takes (2xx) once the database is gone:
                # the sender cannot record that it was delivered. The database comes back only
                # once the round has tried to record it and failed (a round ends when its last
                # attempt does, which may be after a quick restart).
                receiver.delay_s = SLOW_ANSWER_S
                await until(received_past(len(receiver.requests)), "an attempt in flight")
                failed_rounds = served.log().count(ROUND_FAILED)
                began = len(load.sent)
                await asyncio.to_thread(halt)
                await asyncio.sleep(PHASE_S)
                await until(rounds_failed_past(failed_rounds), "a round failing to record")
                await asyncio.to_thread(owned_server.start)
                receiver.delay_s = 0.0
                outages.append(range(began, len(load.sent)))
            stop.set()
            await writing
            log = await logged_since(owned_pool, start)
            await settle(owned_pool, [endpoint], len(log))
        finally:
            stop.set()
            await writing

    # Each outage met requests, and changes were acknowledged before, between and after them;
    # what the service could not answer it answered 503 (or the request got no answer).
    for outage in outages:
        assert any(not load.sent[i].acknowledged for i in outage)
    bounds = [0, *(i for o in outages for i in (o.start, o.stop)), len(load.sent)]
    for before, after in zip(bounds[::2], bounds[1::2], strict=True):
        assert any(s.acknowledged for s in load.sent[before:after]), (before, after)
    assert {s.status for s in load.sent if s.tag in load.unknown()} <= {503, None}
    assert load.refused()
    got = tally(endpoint)
    assert_the_log_arrived(got, log, load)
    # Taken twice: only what was taken while the database was gone, and each time as one event.
    repeated = {next(iter(g.ids)) for g in got.values() if g.taken > 1}
    assert repeated and repeated <= await cut_short(owned_pool, endpoint)
    # The delivery process saw the database go, and went on (it is not restarted).
    assert ROUND_FAILED in served.log()
    assert "Traceback" not in served.log()
