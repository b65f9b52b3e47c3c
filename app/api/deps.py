"""What routes read from a request besides their parameters: the pools, the If-Match
precondition, lead ids in paths.

Plain functions, not FastAPI dependencies: each dependency costs a resolution pass per request,
and a pool is one attribute away.
"""

from __future__ import annotations

import re
from typing import Annotated

import asyncpg
from fastapi import Header, Path, Request

from app.api.problems import BadIfMatch

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
IF_MATCH_FORM = r'^(\*|(W/)?"?[0-9]{1,9}"?)$'
"""If-Match as the OpenAPI document states it: one ETag or `*` (the check also allows spaces)."""


def primary_pool(request: Request) -> asyncpg.Pool:
    """For writes, and for reads a write may follow (read-your-writes)."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def read_pool(request: Request) -> asyncpg.Pool:
    """The replica's pool when DATABASE_READ_URL is set, else the primary's: for reads that
    tolerate replication lag (lists and metrics), never a read before a write."""
    pool: asyncpg.Pool = request.app.state.read_pool
    return pool


IfMatch = Annotated[
    str | None,
    Header(
        description='Apply only if the lead is still at this version (its ETag, e.g. "3").',
        # Documented, not enforced by FastAPI: a malformed value stays the 400 it has been.
        json_schema_extra={"pattern": IF_MATCH_FORM},
    ),
]
LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The lead's id.", examples=[1])]


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names; None for no header or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match)
    if found is None:
        raise BadIfMatch(f'If-Match must be one ETag such as "3" or *, not {if_match[:40]!r}.')
    return int(found.group(1))


def etag(version: int) -> str:
    return f'"{version}"'
