"""How soon /dashboard is usable: `make bench-dashboard` (bench/metrics.py --dashboard).

Opens the page in Debian's headless Chromium with a metrics key, then reloads it `visits` times
and measures, from the start of each navigation, when the first screen's charts are drawn and
when every figure of the page (all tables and headline numbers) is in. The browser shares the
machine's two cores with the service and PostgreSQL, so these are figures of the whole stack.
"""

from __future__ import annotations

from dataclasses import dataclass

CHROMIUM = "/usr/bin/chromium"
KEY = "leadstatus.dashboard.key"
"""Where the page keeps the key for the browser session (app/dashboard/assets/dashboard.js)."""
FIRST_SCREEN = """() => {
  const charts = [...document.querySelectorAll('[data-chart]')]
    .filter((c) => c.getBoundingClientRect().top < innerHeight);
  return charts.length > 0 && charts.every((c) => c.dataset.drawn);
}"""
EVERYTHING = "() => document.body.dataset.ready !== undefined"
# The page notes when (performance.now(), ms from navigation) each thing happened: a test
# polling from inside the page would be held up by the very work it times.
FIRST_SCREEN_AT = """() => Math.max(...[...document.querySelectorAll('[data-chart]')]
  .filter((c) => c.getBoundingClientRect().top < innerHeight).map((c) => +c.dataset.drawn))"""
EVERYTHING_AT = "() => +document.body.dataset.readyAt"


@dataclass
class Visits:
    first_screen_ms: list[float]
    every_figure_ms: list[float]
    cold_first_screen_ms: list[float]
    """Visits by a browser with nothing cached (plotly.js fetched and compiled again)."""
    cold_every_figure_ms: list[float]


def time_dashboard(base: str, key: str, visits: int) -> Visits:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as missing:
        raise SystemExit(
            "the dashboard timing needs playwright: pip install -e '.[browser]'"
        ) from missing
    first, every = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/dashboard")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Open").click()
        page.wait_for_function(EVERYTHING)
        cold, cold_figures = [], []
        for _ in range(max(3, visits // 4)):
            fresh = browser.new_context(viewport={"width": 1400, "height": 900})
            # The key as the page keeps it, so the visit starts with the figures.
            fresh.add_init_script(f"sessionStorage.setItem({KEY!r}, {key!r})")
            tab = fresh.new_page()
            tab.goto(f"{base}/dashboard", wait_until="commit")
            tab.wait_for_function(FIRST_SCREEN)
            cold.append(float(tab.evaluate(FIRST_SCREEN_AT)))
            cold_figures.append(float(tab.evaluate(EVERYTHING_AT)))
            fresh.close()
        for _ in range(visits):
            page.reload(wait_until="commit")
            page.wait_for_function(FIRST_SCREEN)
            page.wait_for_function(EVERYTHING)
            first.append(float(page.evaluate(FIRST_SCREEN_AT)))
            every.append(float(page.evaluate(EVERYTHING_AT)))
        browser.close()
    return Visits(first, every, cold, cold_figures)
