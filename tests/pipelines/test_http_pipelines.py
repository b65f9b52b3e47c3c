"""A custom pipeline end to end over HTTP: define it, move leads through every move of its table,
reopen, new versions, remaps and archived statuses, with the database as the real one."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.pipelines.default import DEFAULT_DOCUMENT
from app.pipelines.definition import build_workflow, document_of
from app.pipelines.workflow import ExtraField, Workflow
from tests.http_support import assert_problem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENTERPRISE: dict[str, Any] = json.loads((EXAMPLES / "enterprise.json").read_text())
WORKFLOW = build_workflow(ENTERPRISE, pipeline="enterprise", version=1)
LATER = (datetime.now(UTC) + timedelta(days=60)).isoformat()


def extras(workflow: Workflow, target: str, code: str) -> dict[str, Any]:
    """The extra fields the reason `code` for `target` requires, filled in."""
    rule = workflow.reopen if target == "reopen" else workflow.reasons.get(target)
    reason = rule.reason(code) if rule is not None else None
    if reason is None:
        return {}
    values = {
        ExtraField.NOTE: "explained",
        ExtraField.COMPETITOR: "Globex",
        ExtraField.REVISIT_AT: LATER,
        ExtraField.FUTURE_OPPORTUNITY: True,
    }
    return {f.value: values[f] for f in reason.requires}


async def define(client: httpx.AsyncClient, name: str, document: Any, **headers: str) -> Any:
    return await client.put(f"/v1/pipelines/{name}", json=document, headers=headers)


async def lead_in(client: httpx.AsyncClient, email: str, pipeline: str = "enterprise") -> Any:
    r = await client.post("/v1/leads", json={"email": email, "pipeline": pipeline})
    assert r.status_code == 201, r.text
    return r.json()


async def move(client: httpx.AsyncClient, lead_id: int, to: str, reason: str) -> httpx.Response:
    body = {"to": to, "reason": reason, **extras(WORKFLOW, to, reason)}
    return await client.post(f"/v1/leads/{lead_id}/transitions", json=body)


async def walk_to(client: httpx.AsyncClient, lead_id: int, path: list[str]) -> None:
    for to in path:
        r = await move(client, lead_id, to, WORKFLOW.reasons[to].codes[0])
        assert r.status_code == 200, r.text


def path_to(status: str) -> list[str]:
    """The shortest sequence of moves from the initial status to `status`."""
    paths = {WORKFLOW.initial: list[str]()}
    frontier = [WORKFLOW.initial]
    while frontier:
        at = frontier.pop(0)
        for nxt in WORKFLOW.allowed_targets(at):
            if nxt not in paths:
                paths[nxt] = [*paths[at], nxt]
                frontier.append(nxt)
    return paths[status]


async def test_default_pipeline_is_listed_as_version_1(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/pipelines")
    assert r.status_code == 200
    assert [(p["name"], p["version"]) for p in r.json()] == [("default", 1)]
    one = await client.get("/v1/pipelines/default")
    assert one.status_code == 200
    assert one.headers["etag"] == '"1"'
    body = one.json()
    assert body["definition"] == document_of(
        build_workflow(DEFAULT_DOCUMENT, pipeline="default", version=1)
    )
    assert body["workflow"]["initial_status"] == "new"
    assert body["created_by"] == "migration 0012"


async def test_a_new_pipeline_is_201_and_the_same_definition_again_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    r = await define(client, "enterprise", ENTERPRISE)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.headers["etag"] == '"1"'
    again = await define(client, "enterprise", ENTERPRISE)
    assert again.status_code == 200 and again.json()["version"] == 1
    listed = (await client.get("/v1/pipelines")).json()
    assert [p["name"] for p in listed] == ["default", "enterprise"]


async def test_an_edit_is_a_new_version_and_the_old_one_stays_readable(
    client: httpx.AsyncClient,
) -> None:
    await define(client, "enterprise", ENTERPRISE)
    edited = copy.deepcopy(ENTERPRISE)
    edited["statuses"][1]["label"] = "Discovery call"
    edited["statuses"][1]["probability"] = 0.15
    r = await define(client, "enterprise", edited, **{"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert "discovery: label 'Discovery' -> 'Discovery call'" in r.json()["changes"]
    stale = await define(client, "enterprise", ENTERPRISE, **{"If-Match": '"1"'})
    assert_problem(stale, 412, "stale-pipeline-version")
    versions = (await client.get("/v1/pipelines/enterprise/versions")).json()
    assert [(v["version"], v["created_by"]) for v in versions] == [
        (1, "suite-admin"),
        (2, "suite-admin"),
    ]
    first = (await client.get("/v1/pipelines/enterprise/versions/1")).json()
    assert first["definition"]["statuses"][1]["label"] == "Discovery"
    assert_problem(await client.get("/v1/pipelines/enterprise/versions/9"), 404)


async def test_an_invalid_definition_lists_every_violation_with_its_pointer(
    client: httpx.AsyncClient,
) -> None:
    broken = copy.deepcopy(ENTERPRISE)
    broken["initial"] = "nowhere"
    broken["statuses"][2]["probability"] = 1.5
    broken["transitions"]["lead_in"].append("closed_won_upsell")
    r = await define(client, "enterprise", broken)
    body = assert_problem(r, 422, "invalid-pipeline")
    pointers = {v["pointer"] for v in body["violations"]}
    assert {"/initial", "/statuses/2/probability"} <= pointers
    assert_problem(await client.get("/v1/pipelines/enterprise"), 404, "pipeline-not-found")
    review = await client.post("/v1/pipelines/enterprise:validate", json=broken)
    assert review.status_code == 200
    assert review.json()["valid"] is False
    assert {v["pointer"] for v in review.json()["violations"]} == pointers


@pytest.mark.parametrize("source", WORKFLOW.open_statuses)
async def test_every_move_of_the_custom_table_is_allowed_or_refused_as_defined(
    client: httpx.AsyncClient, source: str
) -> None:
    await define(client, "enterprise", ENTERPRISE)
    for i, to in enumerate(WORKFLOW.keys):
        lead = await lead_in(client, f"{source}.{i}@example.com")
        assert lead["status"] == "lead_in" and lead["pipeline"] == "enterprise"
        await walk_to(client, lead["id"], path_to(source))
        reason = WORKFLOW.reasons[to].codes[0] if to in WORKFLOW.reasons else "call_held"
        r = await move(client, lead["id"], to, reason)
        if to in WORKFLOW.allowed_targets(source):
            assert r.status_code == 200, (source, to, r.text)
            assert r.json()["status"] == to
            assert r.json()["outcome"] == WORKFLOW.outcome(to)
        else:
            body = assert_problem(r, 409, "transition-not-allowed")
            assert body["allowed_targets"] == sorted(WORKFLOW.allowed_targets(source))


async def test_reasons_are_the_custom_targets_own(client: httpx.AsyncClient) -> None:
    await define(client, "enterprise", ENTERPRISE)
    lead = await lead_in(client, "r@example.com")
    await walk_to(client, lead["id"], ["discovery", "proof_of_concept"])
    # A default-pipeline code is no code here.
    wrong = await client.post(
        f"/v1/leads/{lead['id']}/transitions", json={"to": "closed_lost", "reason": "competitor"}
    )
    body = assert_problem(wrong, 422, "invalid-status-change")
    assert body["allowed_reasons"] == ["price", "no_budget", "other"]
    missing = await client.post(
        f"/v1/leads/{lead['id']}/transitions",
        json={"to": "lost_to_competitor", "reason": "chose_competitor"},
    )
    assert assert_problem(missing, 422)["field"] == "competitor"
    unknown = await client.post(
        f"/v1/leads/{lead['id']}/transitions", json={"to": "won", "reason": "contract_signed"}
    )
    assert assert_problem(unknown, 422, "unknown-status")["field"] == "to"
    r = await move(client, lead["id"], "lost_to_competitor", "chose_competitor")
    assert r.status_code == 200
    history = (await client.get(f"/v1/leads/{lead['id']}/history")).json()
    assert [(h["to"], h["to_outcome"], h["pipeline_version"]) for h in history] == [
        ("discovery", "open", 1),
        ("proof_of_concept", "open", 1),
        ("lost_to_competitor", "lost", 1),
    ]


async def test_reopen_returns_where_the_lead_closed_from(client: httpx.AsyncClient) -> None:
    await define(client, "enterprise", ENTERPRISE)
    lead = await lead_in(client, "back@example.com")
    await walk_to(client, lead["id"], ["discovery", "proof_of_concept", "stalled"])
    r = await client.post(f"/v1/leads/{lead['id']}/reopen", json={"reason": "champion_returned"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reopen_count"]) == ("proof_of_concept", 1)
    closed = await lead_in(client, "early@example.com")
    await walk_to(client, closed["id"], ["nurture"])  # closed straight from lead_in
    r = await client.post(f"/v1/leads/{closed['id']}/reopen", json={"reason": "budget_approved"})
    assert r.json()["status"] == "discovery"  # the first reopen target
    won = await lead_in(client, "won@example.com")
    await walk_to(client, won["id"], ["discovery", "proposal", "closed_won_upsell"])
    refused = await client.post(f"/v1/leads/{won['id']}/reopen", json={"reason": "other"})
    assert assert_problem(refused, 409, "not-reopenable")["reopenable_statuses"] == [
        "closed_lost",
        "lost_to_competitor",
        "nurture",
        "stalled",
    ]


async def test_removing_a_status_with_leads_needs_a_remap(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await define(client, "enterprise", ENTERPRISE)
    leads = [await lead_in(client, f"poc{i}@example.com") for i in range(3)]
    for lead in leads[:2]:
        await walk_to(client, lead["id"], ["discovery", "proof_of_concept"])
    await walk_to(client, leads[2]["id"], ["discovery"])
    slimmer = copy.deepcopy(ENTERPRISE)
    slimmer["statuses"] = [s for s in slimmer["statuses"] if s["key"] != "proof_of_concept"]
    slimmer["transitions"].pop("proof_of_concept")
    for targets in slimmer["transitions"].values():
        if "proof_of_concept" in targets:
            targets.remove("proof_of_concept")
    slimmer["transitions"]["discovery"].append("lost_to_competitor")
    slimmer["reopen_targets"].remove("proof_of_concept")
    slimmer["reasons"].pop("proof_of_concept")
    refused = await define(client, "enterprise", slimmer)
    assert assert_problem(refused, 409, "statuses-in-use")["leads_per_status"] == {
        "proof_of_concept": 2
    }
    review = await client.post(
        "/v1/pipelines/enterprise:validate", json={**slimmer, "remap": {"proof_of_concept": "won"}}
    )
    assert review.json()["valid"] is False
    review = await client.post(
        "/v1/pipelines/enterprise:validate",
        json={**slimmer, "remap": {"proof_of_concept": "discovery"}},
    )
    assert review.json()["valid"] is True
    assert review.json()["leads_to_remap"] == {"proof_of_concept": 2}
    assert await pool.fetchval("SELECT count(*) FROM pipeline_versions") == 2  # a dry run
    r = await define(client, "enterprise", {**slimmer, "remap": {"proof_of_concept": "discovery"}})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["remap"] == {"proof_of_concept": "discovery"}
    for lead in leads[:2]:
        now = (await client.get(f"/v1/leads/{lead['id']}")).json()
        assert (now["status"], now["pipeline_version"]) == ("discovery", 2)
        last = (await client.get(f"/v1/leads/{lead['id']}/history")).json()[-1]
        assert (last["from"], last["to"], last["reason"], last["actor"]) == (
            "proof_of_concept",
            "discovery",
            "pipeline_remap",
            "system",
        )
    untouched = (await client.get(f"/v1/leads/{leads[2]['id']}")).json()
    assert (untouched["status"], untouched["pipeline_version"]) == ("discovery", 1)
    # Moves are decided under version 2 now: the removed status is no target any more.
    gone = await client.post(
        f"/v1/leads/{leads[2]['id']}/transitions", json={"to": "proof_of_concept", "reason": "x"}
    )
    assert_problem(gone, 422, "unknown-status")
    r = await move(client, leads[2]["id"], "lost_to_competitor", "chose_competitor")
    assert r.status_code == 200 and r.json()["pipeline_version"] == 2


async def test_an_archived_status_keeps_its_leads_and_takes_no_new_ones(
    client: httpx.AsyncClient,
) -> None:
    await define(client, "enterprise", ENTERPRISE)
    inside = await lead_in(client, "in@example.com")
    await walk_to(client, inside["id"], ["discovery", "proof_of_concept"])
    outside = await lead_in(client, "out@example.com")
    await walk_to(client, outside["id"], ["discovery"])
    archived = copy.deepcopy(ENTERPRISE)
    archived["statuses"][2]["archived"] = True
    r = await define(client, "enterprise", archived)
    assert r.status_code == 200, r.text
    into = await move(client, outside["id"], "proof_of_concept", "poc_agreed")
    assert assert_problem(into, 409, "transition-not-allowed")["allowed_targets"] == sorted(
        ["proposal", "closed_lost", "stalled", "nurture", "not_a_fit"]
    )
    leaves = await move(client, inside["id"], "proposal", "poc_passed")
    assert leaves.status_code == 200, leaves.text


async def test_the_database_refuses_a_status_or_reason_outside_the_version(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await define(client, "enterprise", ENTERPRISE)
    lead = await lead_in(client, "sql@example.com")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute("UPDATE leads SET status = 'qualified' WHERE id = $1", lead["id"])
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute(
            "UPDATE leads SET status = 'closed_lost' WHERE id = $1", lead["id"]
        )  # its outcome would still say open
    insert = (
        "INSERT INTO lead_status_changes (lead_id, pipeline, pipeline_version, from_version,"
        " from_status, to_status, from_outcome, to_outcome, reason)"
        " VALUES ($1, 'enterprise', 1, 1, 'lead_in', $2, 'open', $3, $4)"
    )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute(insert, lead["id"], "discovery", "open", "budget_confirmed")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute(insert, lead["id"], "contacted", "open", "call_held")
    await pool.execute(insert, lead["id"], "discovery", "open", "call_held")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pool.execute("DELETE FROM pipeline_statuses WHERE pipeline = 'enterprise'")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pool.execute("UPDATE pipeline_versions SET definition = '{}'")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pool.execute("TRUNCATE pipeline_reasons")


async def test_leads_list_filters_on_pipeline_and_refuses_unknown_statuses(
    client: httpx.AsyncClient,
) -> None:
    await define(client, "enterprise", ENTERPRISE)
    ours = await lead_in(client, "e@example.com")
    theirs = await lead_in(client, "d@example.com", pipeline="default")
    listed = (await client.get("/v1/leads", params={"pipeline": "enterprise"})).json()["items"]
    assert [lead["id"] for lead in listed] == [ours["id"]]
    by_status = (await client.get("/v1/leads", params={"status": "new"})).json()["items"]
    assert [lead["id"] for lead in by_status] == [theirs["id"]]
    wrong = await client.get("/v1/leads", params={"pipeline": "enterprise", "status": "new"})
    assert assert_problem(wrong, 422, "unknown-status")["field"] == "status"
    missing = await client.post("/v1/leads", json={"email": "x@example.com", "pipeline": "nope"})
    assert_problem(missing, 404, "pipeline-not-found")


async def test_a_batch_may_mix_pipelines_and_names_an_unknown_one_per_item(
    client: httpx.AsyncClient,
) -> None:
    await define(client, "enterprise", ENTERPRISE)
    leads = [
        {"email": "one@example.com"},
        {"email": "two@example.com", "pipeline": "enterprise"},
        {"email": "three@example.com", "pipeline": "nowhere"},
    ]
    r = await client.post("/v1/leads:batch", json={"leads": leads})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["result"] for i in items] == ["created", "created", "rejected"]
    assert items[2]["problem"]["type"] == "/problems/pipeline-not-found"
    made = [(await client.get(f"/v1/leads/{i['id']}")).json() for i in items[:2]]
    assert [(m["pipeline"], m["status"]) for m in made] == [
        ("default", "new"),
        ("enterprise", "lead_in"),
    ]


async def test_an_email_has_one_open_lead_across_pipelines(client: httpx.AsyncClient) -> None:
    await define(client, "enterprise", ENTERPRISE)
    first = await lead_in(client, "ann@example.com", pipeline="default")
    r = await client.post("/v1/leads", json={"email": "ANN@example.com", "pipeline": "enterprise"})
    body = assert_problem(r, 409, "duplicate-open-lead")
    assert body["existing_lead_id"] == first["id"]
    # Once the first is closed, the person may start again in the other pipeline.
    closed = await client.post(
        f"/v1/leads/{first['id']}/transitions", json={"to": "dead", "reason": "email_bounced"}
    )
    assert closed.status_code == 200, closed.text
    again = await lead_in(client, "ann@example.com")
    assert again["pipeline"] == "enterprise"
