"""The committed OpenAPI document is what the app serves, and it documents every operation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.cli.main import render_openapi

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_schema_matches_the_app(app: FastAPI) -> None:
    served = render_openapi(app.openapi())
    assert COMMITTED.read_text() == served, "openapi/openapi.json is stale: run `make openapi`"


def test_every_operation_is_documented(app: FastAPI) -> None:
    schema = json.loads(COMMITTED.read_text())
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary") and op.get("description"), where
            assert op.get("tags"), where
            if "requestBody" in op:
                content = op["requestBody"]["content"]["application/json"]
                assert content["schema"], where
                example = content.get("example") or content.get("examples")
                if not example and "$ref" in content["schema"]:
                    ref = content["schema"]["$ref"].rsplit("/", 1)[-1]
                    example = schema["components"]["schemas"][ref].get("examples")
                assert example, f"{where}: no example"
            elif op.get("parameters") and path.startswith("/v1/"):
                assert any(
                    "examples" in p or "examples" in p.get("schema", {}) for p in op["parameters"]
                ), f"{where}: no parameter example"
            if path.startswith("/v1/"):
                errors = [code for code in op["responses"] if code.startswith(("4", "5"))]
                assert errors, f"{where}: no documented errors"
                for code in errors:
                    assert "application/problem+json" in op["responses"][code]["content"], (
                        f"{where} {code}"
                    )


def test_every_answer_documents_the_headers_it_carries(app: FastAPI) -> None:
    document = app.openapi()
    headers = document["components"]["headers"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                named = set(response.get("headers", {}))
                assert "X-Request-ID" in named, (method, path, status)
                assert named <= set(headers), (method, path, status)
                if status == "401":
                    assert "WWW-Authenticate" in named, (method, path)
                if status in {"429", "503"} and path.startswith("/v1/"):
                    assert "Retry-After" in named, (method, path, status)
    leads = document["paths"]["/v1/leads"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(leads)
    changed = document["paths"]["/v1/leads/{lead_id}/transitions"]["post"]["responses"]
    assert "ETag" in changed["200"]["headers"]


async def test_the_documented_headers_are_sent(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    r = await client.post("/v1/leads", json={"email": "headers@example.com"})
    assert r.status_code == 201
    assert r.headers["location"] == f"/v1/leads/{r.json()['id']}"
    assert r.headers["etag"] and r.headers["x-request-id"]
    refused = await anonymous.get("/v1/leads")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.headers["x-request-id"]


def test_every_operation_id_is_its_route_name_in_camel_case(app: FastAPI) -> None:
    document = app.openapi()
    ids = [
        operation["operationId"]
        for section in ("paths", "webhooks")
        for operations in document[section].values()
        for operation in operations.values()
    ]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-zA-Z]{2,30}", i)] == []
    assert {
        "createLead",
        "transitionLead",
        "reopenLead",
        "getLeadHistory",
        "getWorkflow",
        "metricsSummary",
        "receiveIntakeDelivery",
        "leadStatusChanged",
    } <= set(ids)
    workflow = document["paths"]["/v1/workflow"]["get"]
    assert workflow["summary"] != "Get Workflow"


def _problem_schemas(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    refs = [schema] if "$ref" in schema else schema["oneOf"]
    return [document["components"]["schemas"][r["$ref"].rsplit("/", 1)[-1]] for r in refs]


def test_every_documented_refusal_has_its_own_problem_schema(app: FastAPI) -> None:
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert not [name for name in schemas if name.endswith(("-Input", "-Output"))]
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/problem+json")
                if content is None:
                    continue
                documented = _problem_schemas(document, content["schema"])
                types = {s["properties"]["type"]["const"] for s in documented}
                assert types == {f"/problems/{name}" for name in content["examples"]}, (
                    method,
                    path,
                    status,
                )
                assert {s["properties"]["status"]["const"] for s in documented} == {int(status)}
                for example in content["examples"].values():
                    (own,) = [
                        s
                        for s in documented
                        if s["properties"]["type"]["const"] == example["value"]["type"]
                    ]
                    assert set(own["required"]) <= set(example["value"]), (method, path, status)


async def test_refusals_carry_the_members_their_schema_requires(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    schemas = app.openapi()["components"]["schemas"]
    created = await client.post("/v1/leads", json={"email": "typed@example.com"})
    lead = created.json()
    refusals = {
        "TransitionNotAllowedProblem": await client.post(
            f"/v1/leads/{lead['id']}/transitions", json={"to": "won", "reason": "signed"}
        ),
        "DuplicateOpenLeadProblem": await client.post(
            "/v1/leads", json={"email": "typed@example.com"}
        ),
        "RequestValidationFailedProblem": await client.post(
            "/v1/leads", json={"email": "typed2@example.com", "attributes": {}, "title": 5}
        ),
        "StaleVersionProblem": await client.patch(
            f"/v1/leads/{lead['id']}", json={"owner": "sam"}, headers={"If-Match": '"7"'}
        ),
        "LeadNotFoundProblem": await client.get("/v1/leads/999999"),
        "InvalidStatusChangeProblem": await client.post(
            f"/v1/leads/{lead['id']}/transitions", json={"to": "contacted", "reason": "signed"}
        ),
    }
    for name, answer in refusals.items():
        schema = schemas[name]
        body = answer.json()
        assert answer.status_code == schema["properties"]["status"]["const"], (name, body)
        assert body["type"] == schema["properties"]["type"]["const"], name
        assert set(schema["required"]) <= set(body), (name, body)
    invalid = refusals["RequestValidationFailedProblem"].json()
    assert invalid["field"] == "title"
    assert invalid["errors"][0]["loc"] == ["body", "title"]
    assert refusals["InvalidStatusChangeProblem"].json()["field"] == "reason"


def test_optional_values_are_typed_as_or_null(app: FastAPI) -> None:
    lead = app.openapi()["components"]["schemas"]["LeadPublic"]["properties"]
    assert lead["company"]["type"] == ["string", "null"]
    assert lead["estimated_value"]["type"] == ["string", "null"]
    assert lead["revisit_at"] == {
        "type": ["string", "null"],
        "format": "date-time",
        "title": "Revisit At",
    }
