"""What routes read from a request besides their parameters: the pools, the If-Match
precondition, lead ids in paths.

Plain functions, not FastAPI dependencies or header parameters: FastAPI resolves and validates
each of those on every request (measured in docs/performance.md), while a pool
is one attribute away and a header one lookup. Headers read this way are listed in the OpenAPI
document with `documented_headers`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import asyncpg
from fastapi import Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from starlette.convertors import Convertor, register_url_convertor

from app.platform.errors import BadIfMatch, DatabaseUnavailable
from app.platform.http.problem_types import RETRY_AFTER_SECONDS

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
IF_MATCH_FORM = r'^(\*|(W/)?"?[0-9]{1,9}"?)$'
"""If-Match as the OpenAPI document states it: one ETag or `*` (the check also allows spaces)."""


def primary_pool(request: Request) -> asyncpg.Pool:
    """For writes, and for reads a write may follow (read-your-writes)."""
    return _connected(request.app.state.pool)


def read_pool(request: Request) -> asyncpg.Pool:
    """The replica's pool when DATABASE_READ_URL is set, else the primary's: for reads that
    tolerate replication lag (lists and metrics), never a read before a write."""
    return _connected(request.app.state.read_pool)


def _connected(pool: asyncpg.Pool | None) -> asyncpg.Pool:
    """The pool, once the service has reached its database (it starts without it)."""
    if pool is None:
        raise DatabaseUnavailable(
            "The service has not reached its database yet; nothing was changed.",
            extra_headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return pool


LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The lead's id.", examples=[1])]


def header_parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    """An optional request header as an OpenAPI parameter."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", "title": name, **schema},
    }


def documented_headers(*parameters: dict[str, Any]) -> dict[str, Any]:
    """A route's `openapi_extra` listing headers it reads itself."""
    return {"parameters": list(parameters)}


IF_MATCH = header_parameter(
    "If-Match",
    'Apply only if the lead is still at this version (its ETag, e.g. "3").',
    pattern=IF_MATCH_FORM,
)


def if_match(request: Request) -> int | None:
    """The version the request's If-Match names; None for no header or `*`; else 400."""
    return expected_version(request.headers.get("if-match"))


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match)
    if found is None:
        raise BadIfMatch(f'If-Match must be one ETag such as "3" or *, not {if_match[:40]!r}.')
    return int(found.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


def strict_json(body: bytes) -> Any:
    """A JSON body read as RFC 8259 defines JSON, the one reader for every route.

    Python's reader also takes `NaN`, `Infinity` and numbers past a double's range (as inf),
    which PostgreSQL's jsonb then stored as null; orjson reads an integer past 64 bits as a
    float, losing digits. Here those are not JSON (json.JSONDecodeError, as any malformed body),
    and integers stay exact, so the models' own rules refuse what cannot be stored.
    """
    try:
        return json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except json.JSONDecodeError:
        raise
    except ValueError as refused:  # the hooks below, or text that is not UTF-8
        raise json.JSONDecodeError(str(refused), body.decode(errors="replace"), 0) from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is past the range of a JSON number this service reads")
    return value


def repeatable_query_parameters(dependant: Dependant) -> frozenset[str]:
    """The query parameters of a route that take a list (`?status=a&status=b`)."""
    return frozenset(
        field.alias
        for field in _query_fields(dependant)
        if _takes_a_list(field.field_info.annotation)
    )


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for needed in dependant.dependencies:
        yield from _query_fields(needed)


def _takes_a_list(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return _takes_a_list(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return any(_takes_a_list(a) for a in get_args(annotation))
    return get_origin(annotation) in (list, tuple, set, frozenset)


def refuse_repeated_parameters(request: Request, repeatable: frozenset[str]) -> None:
    """A parameter the document gives one value may come once: FastAPI would quietly keep the
    last of `?owner=a&owner=b`, answering for a filter the client did not mean."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen and name not in repeatable:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", name),
                        "msg": "Given more than once; this parameter takes one value",
                        "type": "repeated_parameter",
                    }
                ]
            )
        seen.add(name)


class PathSegment(Convertor[str]):
    """A path parameter that stops at `:` as well as at `/`: `/v1/pipelines/{name}` must not
    take `default:validate`, which is `/v1/pipelines/{name}:validate` (whose only method is
    POST, so a PUT there is 405, not a pipeline named `default:validate`)."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", PathSegment())


class StrictJsonRequest(Request):
    """A request whose JSON body is read by `strict_json` when the route parses it."""

    async def json(self) -> Any:
        return strict_json(await self.body())
