"""The pool's reconnect warnings reach the log as one line each, never as a stack trace."""

from __future__ import annotations

import logging

import pytest

import app.platform.db  # noqa: F401  (installs the filter on asyncpg's pool logger)


def test_a_failed_reconnect_is_logged_without_its_trace(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("asyncpg.pool")
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)")
    except ConnectionRefusedError:
        with caplog.at_level(logging.WARNING, logger="asyncpg.pool"):
            logger.warning("Failed to restore the pool connection floor; retrying", exc_info=True)
    [record] = caplog.records
    assert record.exc_info is None
    assert caplog.text.strip().endswith(
        "Failed to restore the pool connection floor; retrying (ConnectionRefusedError)"
    )
    assert "Traceback" not in caplog.text and "10.0.0.5" not in caplog.text
