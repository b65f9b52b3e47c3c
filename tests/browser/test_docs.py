"""The API docs as a person sees them: Swagger UI and ReDoc in a real headless Chromium.

A real `leadstatus serve --migrate` runs as a subprocess on a free port against a fresh embedded
PostgreSQL. The pages must render the operations, Swagger UI's "Try it out" must reach the live
service, and neither page may load anything from a host other than the service itself (the assets
come from fastapi-offline, not a CDN).

Uses Debian's Chromium (`apt-get install chromium`), never a browser downloaded by playwright.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

try:
    from playwright import sync_api
except ImportError:  # `make test` collects this module too; only the browser fixture needs it
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

HOST = "127.0.0.1"
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
STARTUP_TIMEOUT_S = 60.0
UI_TIMEOUT_MS = 30_000

# Operations /docs must list, as (method, path).
EXPECTED_OPERATIONS = {
    ("POST", "/v1/leads"),
    ("GET", "/v1/leads"),
    ("GET", "/v1/leads/{lead_id}"),
    ("POST", "/v1/leads/{lead_id}/transitions"),
    ("POST", "/v1/leads/{lead_id}/reopen"),
    ("GET", "/v1/workflow"),
    ("GET", "/healthz"),
}

# URL schemes that never leave the browser.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension"}


# --------------------------------------------------------------------------- event loops


@pytest.fixture(autouse=True)
def _empty_tables() -> None:
    """Overrides tests/conftest.py's async autouse fixture of the same name, for this module.

    Playwright's sync API keeps its own asyncio loop running in the main thread, so any async
    fixture pytest-asyncio sets up meanwhile fails with "Runner.run() cannot be called from a
    running event loop". These tests use no pool, so there are no tables to empty.
    """


# --------------------------------------------------------------------------- the service


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _leadstatus_command() -> list[str]:
    """The `leadstatus` script of the interpreter running the tests (the project's venv)."""
    script = Path(sys.executable).with_name("leadstatus")
    if script.exists():
        return [str(script)]
    found = shutil.which("leadstatus")
    if found:
        return [found]
    return [sys.executable, "-c", "from app.cli.main import main; main()"]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


@dataclass
class Service:
    base_url: str
    stderr_log: Path
    key: str
    """The development key `--dev-key` made: what a developer pastes into Authorize."""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`leadstatus serve --migrate` on a free port with its own embedded PostgreSQL."""
    workdir = tmp_path_factory.mktemp("leadstatus-browser")
    data_dir = workdir / "data"
    stdout_log = workdir / "serve.stdout.log"
    stderr_log = workdir / "serve.stderr.log"
    port = _free_port()
    base_url = f"http://{HOST}:{port}"

    env = os.environ.copy()
    env.pop("DATABASE_URL", None)
    env["LEADSTATUS_DATA_DIR"] = str(data_dir)
    # The working directory is the scratch dir so that no developer's `.env` (which could set
    # DATABASE_URL) is read; alembic.ini is found next to the (editable) package.
    cmd = [
        *_leadstatus_command(),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--migrate",
        "--dev-key",
    ]
    with stdout_log.open("wb") as out, stderr_log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=err)
    try:
        _wait_healthy(proc, base_url, stderr_log)
        key = (data_dir / "dev-key").read_text().strip()
        yield Service(base_url=base_url, stderr_log=stderr_log, key=key)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        orphan = _stop_orphaned_postgres(data_dir / "pg")
        if orphan is not None:
            warnings.warn(
                f"`leadstatus serve` exited with code {proc.returncode} on SIGTERM and left its "
                f"embedded PostgreSQL (pid {orphan}) running; this test stopped it",
                stacklevel=1,
            )


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, stderr_log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = "no attempt yet"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            pytest.fail(
                f"`leadstatus serve --migrate` exited with code {code} before /healthz answered."
                f"\n--- its stderr ({stderr_log}) ---\n{_tail(stderr_log)}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
                last_error = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = repr(exc)
        time.sleep(0.25)
    pytest.fail(
        f"{base_url}/healthz did not answer 200 within {STARTUP_TIMEOUT_S:.0f} s "
        f"(last error: {last_error})\n--- server stderr ({stderr_log}) ---\n{_tail(stderr_log)}",
        pytrace=False,
    )


def _stop_orphaned_postgres(pgdata: Path) -> int | None:
    """Stop an embedded PostgreSQL still running in `pgdata`; its pid, or None if none was.

    The server is meant to stop when the last process using it exits, but that happens in an
    atexit hook, which does not run if the process dies of a signal.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pidfile.exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        if pidfile.exists():
            os.kill(pid, signal.SIGKILL)
    return pid


# --------------------------------------------------------------------------- the browser


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


@dataclass
class Visit:
    """A fresh page plus every request it made and every error it printed."""

    page: sync_api.Page
    requests: list[sync_api.Request] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [r.url for r in self.requests]

    def offsite_requests(self) -> list[str]:
        """Requests for hosts other than the service on 127.0.0.1, with how each ended.

        A request the page's Content-Security-Policy blocked never leaves the browser, so it does
        not count (Chromium still reports it as a request, failed with "csp").
        """
        offsite = []
        for request in self.requests:
            parts = urlsplit(request.url)
            if parts.scheme in LOCAL_SCHEMES or parts.hostname == HOST:
                continue
            failure = request.failure
            if failure is not None and "csp" in failure.lower():
                continue
            outcome = f"failed: {failure}" if failure else "sent"
            offsite.append(f"{request.url} ({outcome}, initiated as {request.resource_type})")
        return offsite


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


def _assert_nothing_offsite(visit: Visit, what: str) -> None:
    offsite = visit.offsite_requests()
    assert not offsite, (
        f"{what} requested {len(offsite)} URL(s) from hosts other than {HOST} "
        f"(a CDN or other outside asset?):\n  " + "\n  ".join(offsite)
    )


# --------------------------------------------------------------------------- Swagger UI


def _open_swagger(visit: Visit, service: Service) -> sync_api.Page:
    page = visit.page
    response = page.goto(f"{service.base_url}/docs", wait_until="domcontentloaded")
    assert response is not None, "navigating to /docs gave no response"
    assert response.status == 200, f"/docs answered HTTP {response.status}"
    try:
        page.wait_for_selector(".opblock .opblock-summary-path", timeout=UI_TIMEOUT_MS)
    except sync_api.TimeoutError:
        pytest.fail(
            f"Swagger UI at /docs rendered no operation (.opblock) within {UI_TIMEOUT_MS} ms; "
            f"requests: {visit.urls}; console errors: {visit.console_errors}",
            pytrace=False,
        )
    return page


def _listed_operations(page: sync_api.Page) -> set[tuple[str, str]]:
    """(METHOD, path) of every opblock Swagger UI rendered."""
    rows = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(b => {
            const method = b.querySelector('.opblock-summary-method');
            const path = b.querySelector('.opblock-summary-path');
            return [
                method ? method.textContent : '',
                path ? (path.getAttribute('data-path') || path.textContent) : '',
            ];
        })""",
    )
    return {(m.strip().upper(), p.replace("\u200b", "").strip()) for m, p in rows}


def test_docs_lists_operations_and_loads_nothing_offsite(visit: Visit, service: Service) -> None:
    page = _open_swagger(visit, service)
    page.wait_for_load_state("networkidle")

    listed = _listed_operations(page)
    missing = sorted(EXPECTED_OPERATIONS - listed)
    assert not missing, (
        f"/docs does not list {', '.join(f'{m} {p}' for m, p in missing)}; "
        f"it lists: {', '.join(f'{m} {p}' for m, p in sorted(listed))}"
    )
    title = page.locator(".information-container .title").first.inner_text()
    assert "leadstatus" in title, f"Swagger UI's title is {title!r}, expected 'leadstatus'"

    assert any(urlsplit(u).path == "/openapi.json" for u in visit.urls), (
        f"/docs never fetched /openapi.json; requests: {visit.urls}"
    )
    _assert_nothing_offsite(visit, "/docs")


def _authorize(page: sync_api.Page, key: str) -> None:
    """Paste the key into Swagger UI's Authorize dialog, as a developer would."""
    page.locator(".auth-wrapper button.authorize").first.click()
    bearer = page.locator(".auth-container").filter(has_text="ApiKeyBearer")
    try:
        bearer.locator("input").first.fill(key)
    except sync_api.TimeoutError:
        pytest.fail("the Authorize dialog offers no ApiKeyBearer field", pytrace=False)
    bearer.locator("button.authorize").first.click()
    page.locator(".modal-ux button.btn-done").first.click()


def test_docs_try_it_out_get_workflow(visit: Visit, service: Service) -> None:
    page = _open_swagger(visit, service)
    _authorize(page, service.key)

    block = page.locator(".opblock.opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/v1/workflow"]')
    )
    assert block.count() == 1, (
        f"expected one GET /v1/workflow operation in /docs, found {block.count()}"
    )
    block.locator(".opblock-summary").first.click()

    try_it_out = block.locator("button.try-out__btn")
    try:
        try_it_out.wait_for(state="visible")
    except sync_api.TimeoutError:
        pytest.fail("expanding GET /v1/workflow showed no 'Try it out' button", pytrace=False)
    assert try_it_out.inner_text().strip() == "Try it out", (
        f"with tryItOutEnabled=False the button should read 'Try it out', "
        f"it reads {try_it_out.inner_text()!r}"
    )
    try_it_out.click()

    execute = block.locator("button.execute")
    try:
        execute.wait_for(state="visible")
    except sync_api.TimeoutError:
        pytest.fail(
            "clicking 'Try it out' on GET /v1/workflow showed no 'Execute' button", pytrace=False
        )

    with page.expect_response(
        lambda r: urlsplit(r.url).path == "/v1/workflow", timeout=UI_TIMEOUT_MS
    ) as caught:
        execute.click()
    assert caught.value.status == 200, (
        f"the request 'Execute' sent to {caught.value.url} answered HTTP {caught.value.status}"
    )

    live = block.locator(".live-responses-table")
    try:
        live.wait_for(state="visible")
    except sync_api.TimeoutError:
        pytest.fail(
            "after 'Execute', Swagger UI showed no live response (.live-responses-table) "
            f"for GET /v1/workflow; console errors: {visit.console_errors}",
            pytrace=False,
        )
    status = live.locator("tbody .response-col_status").first.inner_text().strip()
    assert status == "200", f"the live response shows status {status!r}, expected '200'"
    body = live.locator(".response-col_description .microlight, .response-col_description pre")
    body_text = body.first.inner_text()
    assert "allowed_targets" in body_text, (
        f"the live response body lacks 'allowed_targets'; it shows: {body_text[:500]!r}"
    )
    # displayRequestDuration=True: Swagger UI reports how long the request took.
    duration = live.locator("h5", has_text="Request duration")
    assert duration.count() > 0, (
        "displayRequestDuration is on but the live response shows no 'Request duration'"
    )

    _assert_nothing_offsite(visit, "/docs after 'Execute'")


# --------------------------------------------------------------------------- ReDoc


REDOC_OPERATIONS = [
    ("POST", "/v1/leads"),
    ("POST", "/v1/leads/{lead_id}/transitions"),
    ("GET", "/v1/workflow"),
]


def _summaries(service: Service, operations: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(method, path, summary) as the served schema names them; ReDoc shows the summaries."""
    with urllib.request.urlopen(f"{service.base_url}/openapi.json", timeout=10) as resp:
        paths = json.load(resp)["paths"]
    found = []
    for method, path in operations:
        operation = paths.get(path, {}).get(method.lower())
        assert operation is not None, f"/openapi.json has no {method} {path}"
        assert operation.get("summary"), f"/openapi.json gives {method} {path} no summary"
        found.append((method, path, operation["summary"]))
    return found


def test_redoc_renders_and_loads_nothing_offsite(visit: Visit, service: Service) -> None:
    page = visit.page
    response = page.goto(f"{service.base_url}/redoc", wait_until="domcontentloaded")
    assert response is not None, "navigating to /redoc gave no response"
    assert response.status == 200, f"/redoc answered HTTP {response.status}"

    heading = page.locator(".api-info h1, .api-content h1").first
    try:
        heading.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    except sync_api.TimeoutError:
        pytest.fail(
            f"ReDoc at /redoc rendered no API title within {UI_TIMEOUT_MS} ms; "
            f"requests: {visit.urls}; console errors: {visit.console_errors}",
            pytrace=False,
        )
    assert "leadstatus" in heading.inner_text(), (
        f"ReDoc's title is {heading.inner_text()!r}, expected it to contain 'leadstatus'"
    )
    for method, path, summary in _summaries(service, REDOC_OPERATIONS):
        found = page.get_by_text(summary, exact=True)
        assert found.count() > 0, f"ReDoc does not show {method} {path} (summary {summary!r})"

    page.wait_for_load_state("networkidle")
    assert any(urlsplit(u).path == "/openapi.json" for u in visit.urls), (
        f"/redoc never fetched /openapi.json; requests: {visit.urls}"
    )
    _assert_nothing_offsite(visit, "/redoc")
