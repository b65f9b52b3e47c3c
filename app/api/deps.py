"""Request-scoped dependencies: the pool, the If-Match precondition, lead ids in paths."""

from __future__ import annotations

import re
from typing import Annotated

import asyncpg
from fastapi import Depends, Header, Path, Request

from app.api.problems import BadIfMatch

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


async def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def if_match_version(
    if_match: Annotated[
        str | None,
        Header(description='Apply only if the lead is still at this version (its ETag, e.g. "3").'),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match)
    if found is None:
        raise BadIfMatch(f'If-Match must be one ETag such as "3" or *, not {if_match[:40]!r}.')
    return int(found.group(1))


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
IfMatch = Annotated[int | None, Depends(if_match_version)]
LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The lead's id.", examples=[1])]


def etag(version: int) -> str:
    return f'"{version}"'
