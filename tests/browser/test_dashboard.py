"""The sales dashboard as a manager meets it, in a real headless Chromium, on seeded demo history.

A real `leadstatus serve` runs on a fresh embedded PostgreSQL seeded with `leadstatus seed`. The
page must ask for a key once per browser session, draw every chart, show the numbers the metrics
API gives for the same filters (two filter sets), follow a filter change in its charts and its
URL, print no console error, load nothing from another host, and pass an axe-core scan (fetched
from the npm registry and checked against its published integrity) with no serious or critical
violation.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.browser.serving import Service, Visit, assert_nothing_offsite, served

with contextlib.suppress(ImportError):  # `make test` collects this module too
    from playwright import sync_api

pytestmark = pytest.mark.browser

DEMO_LEADS = 4_000
SCOPE = ("from", "to", "pipeline", "owner", "source", "segment")
CHARTS = {
    "funnel",
    "over-time",
    "loss-reasons",
    "competitors",
    "lost-from",
    "owners",
    "sources",
    "pipeline-now",
    "first-contact",
    "lost-revenue",
    "pipeline-value",
    "forecast",
}

AXE_VERSION = "4.14.1"
AXE_TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_INTEGRITY = (
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37Ogud"
    "VGtQ=="
)
"""The registry's `dist.integrity` for that version: the download must match it."""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with served(tmp_path_factory.mktemp("dashboard"), seed_leads=DEMO_LEADS) as running:
        yield running


# --------------------------------------------------------------------------- the API's answers


def api(service: Service, path: str, params: dict[str, str] | None = None) -> Any:
    query = f"?{urlencode(params)}" if params else ""
    request = urllib.request.Request(
        f"{service.base_url}{path}{query}", headers={"Authorization": f"Bearer {service.key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def metrics(service: Service, name: str, filters: dict[str, str], **extra: str) -> Any:
    scope = {k: v for k, v in filters.items() if k in SCOPE}
    return api(service, f"/v1/metrics/{name}", {**scope, **extra})


def in_currency(answer: dict[str, Any], currency: str) -> dict[str, Any]:
    return next(c for c in answer["currencies"] if c["currency"] == currency)


def default_currency(revenue: dict[str, Any], value: dict[str, Any]) -> str:
    """The page's rule: most deals won, then most open deals, then by code."""
    open_deals = {c["currency"]: c["deals"] for c in value["currencies"]}
    won = {c["currency"]: c["won"]["deals"] for c in revenue["currencies"]}
    codes = set(open_deals) | set(won)
    return str(sorted(codes, key=lambda c: (-won.get(c, 0), -open_deals.get(c, 0), c))[0])


def expected(service: Service, filters: dict[str, str], currency: str) -> dict[str, Any]:
    """Every table and headline figure the page should show, from the API's own answers."""
    interval = filters.get("interval", "week")
    summary = metrics(service, "summary", filters)
    funnel = metrics(service, "funnel", filters)
    series = {
        m: metrics(service, "timeseries", filters, metric=m, interval=interval)["points"]
        for m in ("won", "lost", "win_rate")
    }
    losses = metrics(service, "loss-reasons", filters)
    owners = metrics(service, "owners", filters, sort="won", order="desc", limit="200")
    sources = metrics(service, "sources", filters)
    hygiene = metrics(service, "hygiene", filters)
    revenue = in_currency(metrics(service, "revenue", filters), currency)
    value = in_currency(metrics(service, "pipeline-value", filters), currency)
    forecast = in_currency(
        metrics(service, "forecast", filters, period=filters.get("period", "month")), currency
    )

    running = 0
    reasons = []
    for reason in losses["by_reason"]:
        running += reason["count"]
        reasons.append(
            {
                **reason,
                "share": reason["count"] / losses["lost"],
                "cumulative": running / losses["lost"],
            }
        )
    tables = {
        "funnel": [
            {
                **stage,
                "drop_off": None if stage["went_on_rate"] is None else 1 - stage["went_on_rate"],
            }
            for stage in funnel["stages"]
        ],
        "over-time": [
            {"start": won["start"], "won": won["value"], "lost": lost["value"], "win_rate": rate}
            for won, lost, rate in zip(
                series["won"],
                series["lost"],
                (p["value"] for p in series["win_rate"]),
                strict=True,
            )
        ],
        "loss-reasons": reasons,
        "no-decision": losses["no_decision_by_reason"],
        "competitors": losses["by_competitor"],
        "lost-from": losses["by_from_status"],
        "owners": owners["items"],
        "sources": sources["items"],
        "pipeline-now": hygiene["stale"]["by_status"],
        "stale-owners": hygiene["stale"]["by_owner"],
        "first-contact-owners": hygiene["first_contact"]["by_owner"],
        "first-contact-sources": hygiene["first_contact"]["by_source"],
        "revenue": [{"outcome": o, **revenue[o]} for o in ("won", "lost", "no_decision")],
        "lost-revenue": revenue["lost_by_reason"],
        "pipeline-value": value["statuses"],
        "forecast": [
            {
                "start": p["start"],
                "closed": p["closed"]["value"],
                "commit": p["categories"]["commit"]["value"],
                "best_case": p["categories"]["best_case"]["value"],
                "pipeline": p["categories"]["pipeline"]["value"],
                "forecast_commit": p["cumulative"]["commit"],
                "forecast_best_case": p["cumulative"]["best_case"],
            }
            for p in forecast["periods"]
        ],
    }
    headline = {
        "created": summary["created"],
        "closed": summary["closed"],
        "win_rate": summary["win_rate"],
        "conversion_rate": summary["conversion_rate"],
        "median_days_to_won": summary["median_days_to_won"],
        "reopened": summary["reopened"],
        "open": sum(summary["pipeline"].values()),
        "stale": hygiene["stale"]["stale"],
        "nurture_due": summary["nurture_due"],
        "first_contact_median_days": hygiene["first_contact"]["median_days"],
        "won_revenue": revenue["won"]["revenue"],
        "revenue_won": revenue["won"]["revenue"],
        "average_deal": revenue["won"]["average_deal"],
        "revenue_lost": revenue["lost"]["revenue"],
        "revenue_no_decision": revenue["no_decision"]["revenue"],
        "pipeline_value": value["value"],
        "pipeline_weighted": value["weighted"],
        "velocity_per_day": value["velocity"]["per_day"],
    }
    return {"tables": tables, "headline": headline}


# --------------------------------------------------------------------------- the page


READ_TABLES = """() => Object.fromEntries([...document.querySelectorAll('table[data-table]')].map(
    t => [t.dataset.table, [...t.tBodies[0].rows].filter(r => r.cells[0].dataset.key).map(
        r => Object.fromEntries([...r.cells].map(c => [c.dataset.key, c.dataset.value])))]))"""
READ_HEADLINE = """() => Object.fromEntries([...document.querySelectorAll('[data-kpi]')].map(
    d => [d.dataset.kpi, d.dataset.value]))"""


def give_key(page: sync_api.Page, service: Service, key: str | None = None) -> None:
    page.goto(f"{service.base_url}/dashboard")
    page.get_by_label("API key").fill(key or service.key)
    page.get_by_role("button", name="Open").click()


def wait_drawn(page: sync_api.Page, after: str | None = None) -> str:
    """Wait until every panel is drawn (a newer drawing than `after`); its generation."""
    page.wait_for_function(
        "after => document.body.dataset.ready && document.body.dataset.ready !== after",
        arg=after,
    )
    return str(page.evaluate("document.body.dataset.ready"))


def open_dashboard(page: sync_api.Page, service: Service, filters: dict[str, str]) -> None:
    give_key(page, service)
    wait_drawn(page)
    if filters:
        page.goto(f"{service.base_url}/dashboard?{urlencode(filters)}")
        wait_drawn(page)


def same(shown: str, value: Any) -> bool:
    """A cell's raw value against the API's: numbers as numbers, the rest as text."""
    if value is None:
        return shown == ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(shown) == float(value)
    return shown == str(value)


def assert_matches_api(page: sync_api.Page, want: dict[str, Any]) -> None:
    tables = page.evaluate(READ_TABLES)
    assert set(tables) == set(want["tables"]), f"tables on the page: {sorted(tables)}"
    for name, rows in want["tables"].items():
        shown = tables[name]
        assert len(shown) == len(rows), f"table {name}: {len(shown)} rows, the API has {len(rows)}"
        for i, (cells, row) in enumerate(zip(shown, rows, strict=True)):
            for key, value in cells.items():
                assert same(value, row[key]), (
                    f"table {name}, row {i}, {key}: the page says {value!r}, the API {row[key]!r}"
                )
    headline = page.evaluate(READ_HEADLINE)
    for key, value in want["headline"].items():
        assert key in headline, f"the page shows no {key}"
        assert same(headline[key], value), (
            f"{key}: the page says {headline[key]!r}, the API {value!r}"
        )


def chart_values(page: sync_api.Page, chart: str, trace: int, axis: str) -> list[Any]:
    return list(
        page.evaluate(
            '([chart, trace, axis]) => document.querySelector(`[data-chart="${chart}"]`)'
            ".data[trace][axis]",
            [chart, trace, axis],
        )
    )


# --------------------------------------------------------------------------- tests


def test_every_chart_is_drawn_on_demo_data(visit: Visit, service: Service) -> None:
    page = visit.page
    open_dashboard(page, service, {})

    # A chart is drawn when it comes near the screen: scroll to each, as a reader would.
    charts = page.locator("[data-chart]")
    for i in range(charts.count()):
        charts.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("c => c.dataset.drawn", arg=charts.nth(i).element_handle())
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('[data-chart]')]"
        ".filter(c => c.querySelector('svg.main-svg')).map(c => c.dataset.chart)"
    )
    assert set(drawn) == CHARTS, f"drawn: {sorted(drawn)}"
    # Charts draw the numbers of the tables: the funnel's bars are the stages reached.
    funnel = metrics(service, "funnel", {})["stages"]
    assert chart_values(page, "funnel", 0, "x") == [s["reached"] for s in funnel]
    owners = metrics(service, "owners", {}, sort="won", order="desc", limit="200")["items"]
    assert chart_values(page, "owners", 0, "x") == [o["won"] for o in owners[:15]][::-1]
    assert not visit.console_errors, f"console errors: {visit.console_errors}"
    assert_nothing_offsite(visit, "/dashboard")


def test_numbers_equal_the_api_for_the_default_filters(visit: Visit, service: Service) -> None:
    page = visit.page
    open_dashboard(page, service, {})
    currency = page.locator("#f-currency").input_value()
    revenue = metrics(service, "revenue", {})
    value = metrics(service, "pipeline-value", {})
    assert currency == default_currency(revenue, value)

    assert_matches_api(page, expected(service, {}, currency))
    assert not visit.console_errors, f"console errors: {visit.console_errors}"


def test_numbers_equal_the_api_for_a_narrower_view(visit: Visit, service: Service) -> None:
    today = datetime.now(UTC).date()
    window = {"from": str(today - timedelta(days=420)), "to": str(today - timedelta(days=200))}
    owner = metrics(service, "owners", window, sort="won")["items"][0]["owner"]
    narrower = {**window, "owner": owner}
    currencies = [c["currency"] for c in metrics(service, "revenue", narrower)["currencies"]]
    assert len(currencies) > 1, "the demo data should have deals in several currencies"
    # A currency other than the page's first choice, with won, open and forecast money all
    # three, so that every money panel is drawn and compared.
    drawn = [
        {c["currency"] for c in metrics(service, name, narrower, **extra)["currencies"]}
        for name, extra in (("pipeline-value", {}), ("forecast", {"period": "quarter"}))
    ]
    currency = next((c for c in currencies[1:] if all(c in each for each in drawn)), None)
    assert currency is not None, f"no second currency has open and forecast money: {drawn}"
    filters = {
        **window,
        "pipeline": "default",
        "owner": owner,
        "interval": "month",
        "currency": currency,
        "period": "quarter",
    }
    page = visit.page
    open_dashboard(page, service, filters)

    assert page.locator("#f-owner").input_value() == owner
    assert page.locator("#f-currency").input_value() == currency
    assert_matches_api(page, expected(service, filters, currency))
    assert not visit.console_errors, f"console errors: {visit.console_errors}"


def test_a_filter_change_redraws_and_goes_into_the_url(visit: Visit, service: Service) -> None:
    page = visit.page
    open_dashboard(page, service, {})
    drawn = wait_drawn(page)
    weekly = page.evaluate(READ_TABLES)["over-time"]

    page.get_by_label("Over time by").select_option("month")
    drawn = wait_drawn(page, after=drawn)
    assert parse_qs(urlsplit(page.url).query)["interval"] == ["month"]
    monthly = page.evaluate(READ_TABLES)["over-time"]
    points = metrics(service, "timeseries", {}, metric="won", interval="month")["points"]
    assert [row["start"] for row in monthly] == [p["start"] for p in points]
    assert len(monthly) < len(weekly)
    page.wait_for_selector('[data-chart="over-time"][data-drawn]')
    assert chart_values(page, "over-time", 0, "y") == [p["value"] for p in points]

    owner = metrics(service, "owners", {}, sort="won")["items"][-1]["owner"]
    page.get_by_label("Owner", exact=True).fill(owner)
    page.get_by_label("Owner", exact=True).press("Enter")
    drawn = wait_drawn(page, after=drawn)
    assert parse_qs(urlsplit(page.url).query)["owner"] == [owner]
    created = page.evaluate(READ_HEADLINE)["created"]
    assert int(created) == metrics(service, "summary", {"owner": owner})["created"]
    assert [row["owner"] for row in page.evaluate(READ_TABLES)["owners"]] == [owner]

    page.go_back()
    wait_drawn(page, after=drawn)
    assert "owner" not in parse_qs(urlsplit(page.url).query)
    assert (
        int(page.evaluate(READ_HEADLINE)["created"]) == metrics(service, "summary", {})["created"]
    )
    assert not visit.console_errors, f"console errors: {visit.console_errors}"


def metrics_refusal(service: Service, filters: dict[str, str]) -> str:
    try:
        metrics(service, "summary", filters)
    except urllib.error.HTTPError as refused:
        assert refused.code == 422
        return str(json.load(refused)["detail"])
    raise AssertionError("the API accepted a window that ends before it starts")


def test_a_window_the_api_refuses_is_explained(visit: Visit, service: Service) -> None:
    page = visit.page
    open_dashboard(page, service, {})
    page.goto(f"{service.base_url}/dashboard?from=2026-06-01&to=2026-01-01")
    refusal = page.get_by_role("status")
    refusal.filter(has_text="refused").wait_for()
    detail = metrics_refusal(service, {"from": "2026-06-01", "to": "2026-01-01"})
    assert detail in refusal.inner_text()
    assert page.locator("[data-kpi]").count() == 0


def test_the_key_is_asked_once_per_session_and_sent_as_the_api_wants(
    browser: sync_api.Browser, visit: Visit, service: Service
) -> None:
    page = visit.page
    page.goto(f"{service.base_url}/dashboard")
    page.get_by_label("API key").wait_for()
    assert page.locator("#figures").is_hidden()
    assert not [u for u in visit.urls if "/v1/" in u], "the page asked the API before a key"

    give_key(page, service, key="lsk_not-a-key")
    page.locator("#key-error").filter(has_text="key").wait_for()
    assert page.get_by_label("API key").is_visible()

    before = len(visit.requests)
    give_key(page, service)
    wait_drawn(page)
    asked = [r for r in visit.requests[before:] if "/v1/metrics/" in r.url]
    assert asked
    assert {r.headers.get("authorization") for r in asked} == {f"Bearer {service.key}"}
    assert page.evaluate("localStorage.length") == 0, "the key must not outlive the session"
    page.reload()
    wait_drawn(page)  # the same tab keeps it

    other = browser.new_context()
    try:
        fresh = other.new_page()
        fresh.goto(f"{service.base_url}/dashboard")
        fresh.get_by_label("API key").wait_for()
        assert fresh.locator("#figures").is_hidden()
    finally:
        other.close()

    page.get_by_role("button", name="Forget the key").click()
    assert page.get_by_label("API key").is_visible()
    assert page.evaluate("sessionStorage.length") == 0


# --------------------------------------------------------------------------- accessibility


@pytest.fixture(scope="module")
def axe_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's browser build, from the npm registry, checked against its integrity."""
    with urllib.request.urlopen(AXE_TARBALL, timeout=60) as response:
        tarball = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    assert digest == AXE_INTEGRITY, f"{AXE_TARBALL} does not match its published integrity"
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        source = member.read().decode()
    Path(tmp_path_factory.mktemp("axe"), "axe.min.js").write_text(source)
    return source


FOCUSED = "document.activeElement.id || document.activeElement.tagName"


def serious_violations(page: sync_api.Page, axe: str) -> list[str]:
    page.add_script_tag(content=axe)
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in found["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_axe_finds_no_serious_violation(
    browser: sync_api.Browser, service: Service, axe_source: str
) -> None:
    # The page's own policy refuses inline scripts; only this test's injected axe needs past it.
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(f"{service.base_url}/dashboard")
        page.get_by_label("API key").wait_for()
        assert serious_violations(page, axe_source) == []

        give_key(page, service)
        wait_drawn(page)
        for disclosure in page.locator("details").all():
            disclosure.evaluate("d => d.open = true")
        assert serious_violations(page, axe_source) == []
        # Keyboard: the filters and every table view are reachable with Tab alone.
        reached = set()
        for _ in range(60):
            page.keyboard.press("Tab")
            reached.add(
                page.evaluate("document.activeElement.id || document.activeElement.tagName")
            )
        assert {"f-from", "f-interval", "f-owner", "f-currency", "SUMMARY"} <= reached
    finally:
        context.close()
