"""Schemathesis against a served `leadstatus serve`: every operation of its OpenAPI document.

Property-based requests (the schema's examples, its boundaries, then random valid and invalid
data) go over TCP to the real process on a scratch database, with a key that has every scope.
Every check Schemathesis has is on but one (`EXCLUDED_CHECKS`): each answer must be no 5xx
and keep the document's promises (a documented status code, its content type, its headers and
its body schema), a request the document refuses must be refused, a method the path lacks is
405 with an `Allow` naming the path's methods, and a call without its key is 401. A fixed seed
and derandomized generation make a CI run repeat the one before it; what a run finds becomes a
regular test in tests/platform/test_http_fuzz_findings.py.

The document is the committed openapi/openapi.json, loaded when the module is collected so that
each operation is a test of its own; the `served` fixture checks it is the very document the
process serves. Run with `make fuzz` (the `fuzz` marker keeps it out of the default run).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import requests
import schemathesis
from cryptography.fernet import Fernet

from tests.served import BIN, ServedProcess

if TYPE_CHECKING:  # schemathesis defines this alias for type checkers only
    from schemathesis.specs.openapi.schemas import OpenApiCase

pytestmark = pytest.mark.fuzz

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
SEED = 20260401
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "300"))
"""Random examples per operation in the fuzzing phase: about two and a half minutes on two cores
for the whole run (the examples and coverage phases come on top, bounded by the schema itself).
Fewer missed real bugs: 40 did not reach the metrics windows at the edges of the calendar."""

EXCLUDED_CHECKS = ("positive_data_acceptance",)
"""Every check Schemathesis has, but this one: a batch validates each item on its own and answers
200 with the item `rejected`, by design, where the check wants a refusal of the whole request."""

INTAKE_SOURCE = "hubspot-main"
"""Named as the schema's example for `{source}`, so the examples phase reaches a configured
source and its signature check (fuzzing cannot sign a body, so it sees only refusals)."""

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        # Every check is on unless named here (Schemathesis' default).
        "checks": {name: {"enabled": False} for name in EXCLUDED_CHECKS},
    }
)
schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)


@dataclass(frozen=True)
class Served:
    url: str
    session: requests.Session
    """Carries the admin key on every request, over one kept-alive connection."""


def _cli(env: dict[str, str], *args: str) -> str:
    """Run `leadstatus ...` on the scratch database; its last line (a key or a secret)."""
    done = subprocess.run(
        [str(BIN / "leadstatus"), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Served]:
    """The service on a free port with an admin key and one HubSpot intake source."""
    secret_key = Fernet.generate_key().decode()
    env = dict(os.environ, DATABASE_URL=database_url, LEADSTATUS_SECRET_KEY=secret_key)
    key = _cli(env, "apikey", "create", "--name", "fuzz", "--scopes", "admin")
    _cli(env, "source", "add", INTAKE_SOURCE, "--kind", "hubspot")
    # Unsigned deliveries are most of what intake gets here; a budget of failures per address
    # would soon answer them all 429 (its own tests show it) and hide what lies behind.
    process = ServedProcess(
        database_url, LEADSTATUS_SECRET_KEY=secret_key, LEADSTATUS_AUTH_FAILURE_BURST="1000000"
    ).start()
    try:
        served_document = httpx.get(f"{process.url}/openapi.json", timeout=10).json()
        assert served_document == schema.raw_schema, "openapi/openapi.json is stale: make openapi"
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {key}"
            yield Served(process.url, session)
    finally:
        process.stop()


def _key_each_request_apart(case: OpenApiCase) -> None:
    """Give a generated Idempotency-Key to this request alone.

    Generation repeats short keys ("0", "a") across different bodies, which the service rightly
    refuses (422 idempotency-key-reused) before any work, so most writes would never reach a use
    case. A key derived from the request keeps a true retry a retry and lets every other request
    through. A malformed key (empty, past 255 characters) is kept, for the 400 it deserves.
    """
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if key is None or not 0 < len(key.strip()) <= 255:
        return
    request = repr((case.method, case.formatted_path, case.query, case.body))
    case.headers["Idempotency-Key"] = hashlib.sha256(request.encode()).hexdigest()


FRAMING_HEADERS = {"content-length", "transfer-encoding", "host", "connection", "expect", "te"}


def _drop_framing_headers(case: OpenApiCase) -> None:
    """Leave how a request is framed on the wire to the HTTP client.

    Generation adds made-up headers, sometimes with these names; a garbled Content-Length is
    refused by uvicorn's HTTP parser (400, text/plain) before the app exists for that request,
    so it says nothing about the API and its document (a false positive of the generator).
    """
    if case.headers:
        for name in [n for n in case.headers if n.lower() in FRAMING_HEADERS]:
            del case.headers[name]


@schema.parametrize()
def test_api_answers_as_documented(case: OpenApiCase, served: Served) -> None:
    _drop_framing_headers(case)
    _key_each_request_apart(case)
    case.call_and_validate(base_url=served.url, session=served.session, timeout=30)
