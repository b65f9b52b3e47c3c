"""The dashboard's page and assets over HTTP: open without a key, strict policy, cached, offline.

The browser tests (tests/browser/test_dashboard.py) check what the page shows; these check what
the service sends for it.
"""

from __future__ import annotations

import gzip
import re

import httpx

from tests.http_support import assert_problem


async def test_the_page_needs_no_key_and_allows_scripts_only_from_the_service(
    anonymous: httpx.AsyncClient,
) -> None:
    r = await anonymous.get("/dashboard")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self'" in policy
    assert r.headers["x-content-type-options"] == "nosniff"
    # Every script and stylesheet is the service's own, addressed by its content.
    assets = re.findall(r'(?:src|href)="(/dashboard/assets/[^"]+)"', r.text)
    assert {a.split("?")[0].rsplit("/", 1)[1] for a in assets} == {
        "dashboard.js",
        "dashboard.css",
        "plotly.min.js",
    }
    assert "http://" not in r.text and "https://" not in r.text
    for address in assets:
        asset = await anonymous.get(address)
        assert asset.status_code == 200, address
        assert asset.content, address
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        # Without its content's version, the same file is checked again at every use.
        unversioned = await anonymous.get(address.split("?")[0])
        assert unversioned.headers["cache-control"] == "no-cache"
        assert unversioned.content == asset.content


async def test_plotly_comes_compressed_from_the_installed_wheel(
    anonymous: httpx.AsyncClient,
) -> None:
    plain = await anonymous.get(
        "/dashboard/assets/plotly.min.js", headers={"Accept-Encoding": "identity"}
    )
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "content-encoding" not in plain.headers
    assert b"plotly.js v" in plain.content[:400]

    # httpx would decode it: ask for the raw bytes to see what went over the wire.
    async with anonymous.stream(
        "GET", "/dashboard/assets/plotly.min.js", headers={"Accept-Encoding": "gzip"}
    ) as zipped:
        assert zipped.headers["content-encoding"] == "gzip"
        raw = b"".join([chunk async for chunk in zipped.aiter_raw()])
    assert len(raw) < len(plain.content) / 2
    assert gzip.decompress(raw) == plain.content


async def test_an_asset_is_answered_304_when_the_browser_has_it(
    anonymous: httpx.AsyncClient,
) -> None:
    first = await anonymous.get("/dashboard/assets/dashboard.js")
    etag = first.headers["etag"]
    again = await anonymous.get("/dashboard/assets/dashboard.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    changed = await anonymous.get(
        "/dashboard/assets/dashboard.js", headers={"If-None-Match": '"something-else"'}
    )
    assert changed.status_code == 200


async def test_an_unknown_asset_is_a_problem_not_a_file(anonymous: httpx.AsyncClient) -> None:
    for name in ("nope.js", "..%2Froutes.py", "page.html"):
        assert_problem(await anonymous.get(f"/dashboard/assets/{name}"), 404)
