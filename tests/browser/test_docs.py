"""The API docs as a person sees them: Swagger UI and ReDoc in a real headless Chromium.

A real `leadstatus serve --migrate` runs as a subprocess on a free port against a fresh embedded
PostgreSQL. The pages must render the operations, Swagger UI's "Try it out" must reach the live
service, and neither page may load anything from a host other than the service itself (the assets
come from fastapi-offline, not a CDN).

Uses Debian's Chromium (`apt-get install chromium`), never a browser downloaded by playwright.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.browser.serving import UI_TIMEOUT_MS, Service, Visit, assert_nothing_offsite, served

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # `make test` collects this module too
    from playwright import sync_api

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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with served(tmp_path_factory.mktemp("leadstatus-browser")) as running:
        yield running


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
    assert_nothing_offsite(visit, "/docs")


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

    assert_nothing_offsite(visit, "/docs after 'Execute'")


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
    assert_nothing_offsite(visit, "/redoc")
