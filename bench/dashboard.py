"""How soon /dashboard is usable: `make bench-dashboard` (bench/metrics.py --dashboard).

Opens the page in Debian's headless Chromium with a metrics key, then reloads it `visits` times
and measures, from the start of each navigation, when the first screen's charts are drawn and
when every figure of the page (all tables and headline numbers) is in. The browser shares the
machine's two cores with the service and PostgreSQL, so these are figures of the whole stack.
"""

from __future__ import annotations

from dataclasses import dataclass

CHROMIUM = "/usr/bin/chromium"
FIRST_SCREEN = """() => {
  const charts = [...document.querySelectorAll('[data-chart]')]
    .filter((c) => c.getBoundingClientRect().top < innerHeight);
  return charts.length > 0 && charts.every((c) => c.dataset.drawn);
}"""
EVERYTHING = "() => document.body.dataset.ready !== undefined"


@dataclass
class Visits:
    first_screen_ms: list[float]
    every_figure_ms: list[float]


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
        for _ in range(visits):
            page.reload(wait_until="commit")
            page.wait_for_function(FIRST_SCREEN, polling=10)
            first.append(float(page.evaluate("performance.now()")))
            page.wait_for_function(EVERYTHING, polling=10)
            every.append(float(page.evaluate("performance.now()")))
        browser.close()
    return Visits(first_screen_ms=first, every_figure_ms=every)
