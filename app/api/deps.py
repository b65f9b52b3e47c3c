"""Request-scoped dependencies: the pools, the If-Match precondition, lead ids in paths."""

from __future__ import annotations

import re
from typing import Annotated

import asyncpg
from fastapi import Depends, Header, Path, Request

from app.api.problems import BadIfMatch

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
IF_MATCH_FORM = r'^(\*|(W/)?"?[0-9]{1,9}"?)$'
"""If-Match as the OpenAPI document states it: one ETag or `*` (the check also allows spaces)."""


async def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def get_read_pool(request: Request) -> asyncpg.Pool:
    """The replica's pool when DATABASE_READ_URL is set, else the primary's."""
    pool: asyncpg.Pool = request.app.state.read_pool
    return pool


async def if_match_version(
    if_match: Annotated[
        str | None,
        Header(
            description='Apply only if the lead is still at this version (its ETag, e.g. "3").',
            # Documented, not enforced by FastAPI: a malformed value stays the 400 it has been.
            json_schema_extra={"pattern": IF_MATCH_FORM},
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match)
    if found is None:
        raise BadIfMatch(f'If-Match must be one ETag such as "3" or *, not {if_match[:40]!r}.')
    return int(found.group(1))


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
ReadPool = Annotated[asyncpg.Pool, Depends(get_read_pool)]
"""For reads that tolerate replication lag: lists and metrics, never a read before a write."""
IfMatch = Annotated[int | None, Depends(if_match_version)]
LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The lead's id.", examples=[1])]


def etag(version: int) -> str:
    return f'"{version}"'
