"""Transitions, reopenings and history over HTTP: the workflow's refusals and what they return."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.example_pipelines import DEFAULT
from tests.http_support import assert_problem, create, move


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def qualified(client: httpx.AsyncClient, email: str = "q@example.com") -> dict[str, Any]:
    lead = await create(client, email, owner="alex")
    r = await move(client, lead["id"], "qualified", "need_confirmed")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_transition_returns_the_moved_lead(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    r = await move(
        client, lead["id"], "won", "contract_signed", future_opportunity=True, actor="alex"
    )
    assert r.status_code == 200
    won = r.json()
    assert won["status"] == "won" and won["status_reason"] == "contract_signed"
    assert won["version"] == 3 and r.headers["etag"] == '"3"'
    assert won["closed_at"] is not None and won["closed_from"] == "qualified"


async def test_move_outside_the_table_is_409_with_allowed_targets(
    client: httpx.AsyncClient, pool: Any
) -> None:
    lead = await create(client, "n@example.com")
    problem = assert_problem(
        await move(client, lead["id"], "won", "contract_signed"), 409, "transition-not-allowed"
    )
    assert problem["allowed_targets"] == sorted(DEFAULT.allowed_targets("new"))
    assert problem["current_status"] == "new"
    assert await pool.fetchval("SELECT count(*) FROM lead_status_changes") == 0
    assert (await client.get(f"/v1/leads/{lead['id']}")).json()["version"] == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"to": "lost", "reason": "contract_signed"}, "reason"),
        ({"to": "lost", "reason": "made_up"}, "reason"),
        ({"to": "lost", "reason": "competitor"}, "competitor"),
        ({"to": "lost", "reason": "other"}, "note"),
        ({"to": "recycled", "reason": "nurture"}, "revisit_at"),
        (
            {"to": "recycled", "reason": "nurture", "revisit_at": "2001-01-01T00:00:00Z"},
            "revisit_at",
        ),
        ({"to": "negotiating", "reason": "proposal_sent", "competitor": "Globex"}, "competitor"),
        (
            {"to": "negotiating", "reason": "proposal_sent", "future_opportunity": True},
            "future_opportunity",
        ),
    ],
)
async def test_reason_rules_are_422_naming_the_field(
    client: httpx.AsyncClient, pool: Any, body: dict[str, Any], field: str
) -> None:
    lead = await qualified(client)
    problem = assert_problem(
        await client.post(f"/v1/leads/{lead['id']}/transitions", json=body), 422
    )
    assert problem["field"] == field
    assert await pool.fetchval("SELECT count(*) FROM lead_status_changes") == 1


@pytest.mark.parametrize(
    "body",
    [
        {"to": "won"},
        {"reason": "price"},
        {"to": "closed", "reason": "price"},
        {"to": "won", "reason": "x", "status": "won"},
    ],
)
async def test_malformed_transition_bodies_are_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    lead = await qualified(client)
    assert_problem(await client.post(f"/v1/leads/{lead['id']}/transitions", json=body), 422)


async def test_wrong_reason_lists_the_targets_codes(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    problem = assert_problem(
        await move(client, lead["id"], "lost", "unresponsive"), 422, "invalid-status-change"
    )
    assert problem["allowed_reasons"] == DEFAULT.reasons["lost"].codes


async def test_if_match_stale_is_412_and_current_applies(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    url = f"/v1/leads/{lead['id']}/transitions"
    body = {"to": "negotiating", "reason": "proposal_sent"}
    problem = assert_problem(
        await client.post(url, json=body, headers={"If-Match": '"1"'}), 412, "stale-version"
    )
    assert problem["current_version"] == 2
    ok = await client.post(url, json=body, headers={"If-Match": 'W/"2"'})
    assert ok.status_code == 200 and ok.json()["version"] == 3
    assert_problem(
        await client.post(url, json=body, headers={"If-Match": '"a", "b"'}), 400, "bad-if-match"
    )


async def test_recycle_then_reopen_to_the_status_held_before(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    await move(client, lead["id"], "negotiating", "proposal_sent")
    r = await move(client, lead["id"], "recycled", "budget_next_cycle", revisit_at=future())
    assert r.json()["revisit_at"] is not None and r.json()["closed_from"] == "negotiating"
    r = await client.post(
        f"/v1/leads/{lead['id']}/reopen", json={"reason": "budget_approved", "actor": "sam"}
    )
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["status"] == "negotiating" and back["reopen_count"] == 1
    assert (
        back["revisit_at"] is None
        and back["closed_at"] is None
        and back["status_reason"] == "budget_approved"
    )


async def test_reopen_to_an_explicit_open_status_and_counts(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    for n in (1, 2):
        assert (
            await move(client, lead["id"], "lost", "price", revisit_at=future())
        ).status_code == 200
        r = await client.post(
            f"/v1/leads/{lead['id']}/reopen", json={"reason": "timing_right", "to": "contacted"}
        )
        assert r.json()["status"] == "contacted" and r.json()["reopen_count"] == n
        assert (await move(client, lead["id"], "qualified", "budget_confirmed")).status_code == 200


async def test_reopen_defaults_to_contacted_for_a_lead_recycled_while_new(
    client: httpx.AsyncClient,
) -> None:
    lead = await create(client, "new-recycled@example.com")
    await move(client, lead["id"], "recycled", "nurture", revisit_at=future())
    r = await client.post(f"/v1/leads/{lead['id']}/reopen", json={"reason": "needs_changed"})
    assert r.json()["status"] == "contacted"


@pytest.mark.parametrize("status", ["new", "qualified", "won", "disqualified", "dead"])
async def test_reopen_from_anything_but_lost_no_decision_recycled_is_409(
    client: httpx.AsyncClient, pool: Any, status: str
) -> None:
    lead = await create(client, f"{status}@example.com")
    await pool.execute(
        "UPDATE leads SET status = $2, outcome = $3 WHERE id = $1",
        lead["id"],
        status,
        DEFAULT.outcome(status).value,
    )
    problem = assert_problem(
        await client.post(f"/v1/leads/{lead['id']}/reopen", json={"reason": "budget_approved"}),
        409,
        "not-reopenable",
    )
    assert problem["reopenable_statuses"] == ["lost", "no_decision", "recycled"]


async def test_reopen_rules_are_422(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    await move(client, lead["id"], "no_decision", "unresponsive")
    url = f"/v1/leads/{lead['id']}/reopen"
    assert assert_problem(await client.post(url, json={"reason": "other"}), 422)["field"] == "note"
    assert (
        assert_problem(await client.post(url, json={"reason": "price"}), 422)["field"] == "reason"
    )
    assert (
        assert_problem(await client.post(url, json={"reason": "timing_right", "to": "won"}), 422)[
            "field"
        ]
        == "to"
    )
    assert_problem(
        await client.post(url, json={"reason": "timing_right", "revisit_at": future()}), 422
    )
    r = await client.post(url, json={"reason": "other", "note": "Their new CFO called."})
    assert r.status_code == 200 and r.json()["status"] == "qualified"


async def test_closed_statuses_leave_only_by_reopen(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    await move(client, lead["id"], "lost", "budget")
    problem = assert_problem(await move(client, lead["id"], "qualified", "budget_confirmed"), 409)
    assert problem["allowed_targets"] == [] and "reopen" in problem["detail"]


async def test_history_lists_every_change_oldest_first(client: httpx.AsyncClient) -> None:
    lead = await qualified(client)
    lead_id = lead["id"]
    await client.patch(f"/v1/leads/{lead_id}", json={"owner": "sam"})
    await move(
        client, lead_id, "lost", "competitor", competitor="Globex", note="cheaper", actor="sam"
    )
    await client.post(
        f"/v1/leads/{lead_id}/reopen", json={"reason": "competitor_failed", "actor": "sam"}
    )
    await move(client, lead_id, "won", "purchase_order", future_opportunity=False)
    history = (await client.get(f"/v1/leads/{lead_id}/history")).json()
    assert [(h["from"], h["to"], h["reason"], h["reopened"]) for h in history] == [
        ("new", "qualified", "need_confirmed", False),
        ("qualified", "lost", "competitor", False),
        ("lost", "qualified", "competitor_failed", True),
        ("qualified", "won", "purchase_order", False),
    ]
    assert history[1]["competitor"] == "Globex" and history[1]["note"] == "cheaper"
    assert (
        history[1]["actor"] == "sam"
        and history[1]["owner"] == "sam"
        and history[0]["owner"] == "alex"
    )
    assert history[3]["future_opportunity"] is False
    ats = [h["at"] for h in history]
    assert ats == sorted(ats)


async def test_history_of_a_new_lead_is_empty(client: httpx.AsyncClient) -> None:
    lead = await create(client, "fresh@example.com")
    r = await client.get(f"/v1/leads/{lead['id']}/history")
    assert r.status_code == 200 and r.json() == []


async def test_workflow_serves_the_table(client: httpx.AsyncClient) -> None:
    wf = (await client.get("/v1/workflow")).json()
    assert wf["initial_status"] == "new"
    statuses = {s["name"]: s for s in wf["statuses"]}
    assert set(statuses) == set(DEFAULT.keys)
    for status, targets in ((k, DEFAULT.allowed_targets(k)) for k in DEFAULT.keys):
        assert set(statuses[status]["allowed_targets"]) == set(targets)
    assert statuses["lost"]["reopen_targets"] == ["contacted", "qualified", "negotiating"]
    assert statuses["won"]["category"] == "terminal" and statuses["lost"]["category"] == "closed"
    for target, rule in DEFAULT.reasons.items():
        assert [r["code"] for r in wf["targets"][target]["reasons"]] == [
            r.code for r in rule.reasons
        ]
    competitor = next(r for r in wf["targets"]["lost"]["reasons"] if r["code"] == "competitor")
    assert competitor["requires"] == ["competitor"]
    assert DEFAULT.reopen is not None
    assert [r["code"] for r in wf["reopen"]["reasons"]] == DEFAULT.reopen.codes
    assert "revisit_at" in wf["targets"]["no_decision"]["accepts"]
