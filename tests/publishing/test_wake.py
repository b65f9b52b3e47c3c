"""A write wakes a waiting publisher at once, endpoints or not (migration 0019), while a waiting
delivery process is still woken only when an endpoint is there to send to."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from app.webhooks.delivery import CHANNEL
from app.webhooks.repository import waiting, woken


@pytest.mark.parametrize(
    ("publishing", "endpoint", "woken_up"),
    [(True, False, True), (False, False, False), (False, True, True)],
    ids=["publisher", "delivery-without-endpoint", "delivery-with-endpoint"],
)
async def test_who_a_write_wakes(
    pool: asyncpg.Pool, publishing: bool, endpoint: bool, woken_up: bool
) -> None:
    if endpoint:
        await pool.execute(
            "INSERT INTO webhook_endpoints (url, secret, cursor_tx)"
            " VALUES ('https://example.com/hook', 'sealed', pg_current_xact_id())"
        )
    heard = asyncio.Event()

    def notified(*_: object) -> None:
        heard.set()

    async with pool.acquire() as listening:
        await listening.add_listener(CHANNEL, notified)
        try:
            await waiting(listening, publishing=publishing)
            await pool.execute("INSERT INTO leads (email) VALUES ('wake@example.com')")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heard.wait(), 1.0)
        finally:
            await woken(listening)
            await listening.remove_listener(CHANNEL, notified)
    assert heard.is_set() is woken_up
