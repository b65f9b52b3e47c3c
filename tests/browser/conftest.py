"""Fixtures of the browser tests: Debian's Chromium, a fresh page per test, no database tables.

Uses Debian's Chromium (`apt-get install chromium`), never a browser downloaded by playwright.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser.serving import UI_TIMEOUT_MS, Visit

try:
    from playwright import sync_api
except ImportError:  # `make test` collects this directory too; only the browser fixture needs it
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def _empty_tables() -> None:
    """Overrides tests/conftest.py's async autouse fixture of the same name, for this module.

    Playwright's sync API keeps its own asyncio loop running in the main thread, so any async
    fixture pytest-asyncio sets up meanwhile fails with "Runner.run() cannot be called from a
    running event loop". These tests use no pool, so there are no tables to empty.
    """


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    if not HAVE_PLAYWRIGHT:
        pytest.skip("playwright is not installed: `make test-browser` installs the browser extra")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's Chromium (`apt-get install -y chromium`); "
            "these tests never download playwright's own browser",
            pytrace=False,
        )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def visit(browser: sync_api.Browser) -> Iterator[Visit]:
    context = browser.new_context()
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    seen = Visit(page=page)
    page.on("request", lambda request: seen.requests.append(request))
    page.on(
        "console",
        lambda msg: seen.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: seen.console_errors.append(f"uncaught: {exc}"))
    try:
        yield seen
    finally:
        context.close()
