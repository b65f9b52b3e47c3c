"""HTTP for the dashboard page and its assets: the page holds no figures, so it needs no key.

The browser asks the metrics API for every number, with the key the person gives the page; this
module only serves files. The chart library is plotly.js as the `plotly` wheel ships it, so the
page works offline like `/docs` and nothing is built or fetched from a CDN. Assets are compressed
once, on first use, and addressed by their content, so a browser keeps them until they change.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

router = APIRouter()

HERE = Path(__file__).parent / "assets"

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Scripts only from the service itself; plotly.js sets element styles inline and draws its
icons as data URIs, hence those two allowances."""

PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def plotly_bundle() -> Path:
    """plotly.js inside the installed `plotly` wheel, found without importing the package
    (its Python side is never used here)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed (pip install plotly)")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


ASSETS = {
    "dashboard.js": lambda: HERE / "dashboard.js",
    "dashboard.css": lambda: HERE / "dashboard.css",
    "plotly.min.js": plotly_bundle,
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    compressed: bytes
    media_type: str
    etag: str


@cache
def asset(name: str) -> Asset:
    path = ASSETS[name]()
    body = path.read_bytes()
    return Asset(
        body=body,
        compressed=gzip.compress(body, compresslevel=6, mtime=0),
        media_type=MEDIA_TYPES[path.suffix],
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
    )


def version(found: Asset) -> str:
    return found.etag[1:13]


@cache
def page(root: str) -> str:
    """The page with the asset addresses filled in (`root` is where the app is mounted)."""
    assets = {
        name.replace(".", "_"): f"{root}/dashboard/assets/{name}?v={version(asset(name))}"
        for name in ASSETS
    }
    return Template((HERE / "page.html").read_text()).substitute(root=root, **assets)


# Plain functions, run in the thread pool: the first call reads and compresses plotly.js (4.8 MB),
# which must not hold the event loop the API's requests are served on.
@router.get("/dashboard", include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    return HTMLResponse(page(request.scope.get("root_path", "")), headers=PAGE_HEADERS)


@router.get("/dashboard/assets/{name}", include_in_schema=False)
def dashboard_asset(name: str, request: Request) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, "The dashboard has no asset of this name.")
    found = asset(name)
    # The page asks for each asset by its content (`?v=`), so that address never changes
    # meaning: a browser keeps it for a year. Any other address is checked every time.
    addressed = request.query_params.get("v") == version(found)
    headers = {
        "ETag": found.etag,
        "Cache-Control": "public, max-age=31536000, immutable" if addressed else "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.compressed, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
