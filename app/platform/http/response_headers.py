"""Headers every answer carries unless it set its own: what a browser may do with it.

- `X-Content-Type-Options: nosniff` on everything: a JSON body is never run as a script.
- `Cache-Control: no-store` on the API (`/v1`): lead data, metrics and keys' answers stay out of
  shared and browser caches.
- The API documentation pages (`/docs`, `/redoc`) may not be framed by another site (the
  dashboard's page sets a whole policy of its own).
"""

from __future__ import annotations

Header = tuple[bytes, bytes]

ALWAYS: tuple[Header, ...] = ((b"x-content-type-options", b"nosniff"),)
API: tuple[Header, ...] = (*ALWAYS, (b"cache-control", b"no-store"))
UNFRAMED: tuple[Header, ...] = (
    *ALWAYS,
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
DOCUMENTATION_PAGES = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


def defaults_for(path: str) -> tuple[Header, ...]:
    """The headers an answer on `path` gets when it has not set them itself."""
    if path.startswith("/v1/"):
        return API
    if path in DOCUMENTATION_PAGES:
        return UNFRAMED
    return ALWAYS


def with_defaults(headers: list[Header], defaults: tuple[Header, ...]) -> list[Header]:
    """`headers` and each default whose name they do not carry (names are lower case in ASGI)."""
    present = {name for name, _ in headers}
    return [*headers, *(h for h in defaults if h[0] not in present)]
