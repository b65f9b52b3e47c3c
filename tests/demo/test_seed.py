"""`leadstatus seed` on real PostgreSQL: histories the workflow allows, the skew the metrics should
show, reproducible runs, and appending to a database the API keeps using."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from app.demo.pipeline import DEMO_PROPERTIES
from app.demo.seeding import SeedPlan, SeedSummary, seed_demo
from app.leads import bulk
from app.pipelines.workflow import ExtraField
from app.platform.settings import get_settings
from tests.example_pipelines import DEFAULT

W = DEFAULT
"""The demo's leads walk the default pipeline."""
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PLAN = SeedPlan(leads=300, seed=7, now=NOW, workers=2)
Row = Mapping[str, Any]


async def seeded(pool: asyncpg.Pool) -> tuple[list[Row], dict[int, list[Row]]]:
    """Every lead (by id) and its history (by id, the order the API shows)."""
    leads = await pool.fetch("SELECT * FROM leads ORDER BY id")
    histories: dict[int, list[Row]] = defaultdict(list)
    for change in await pool.fetch("SELECT * FROM lead_status_changes ORDER BY id"):
        histories[change["lead_id"]].append(change)
    return leads, histories


def replay(lead: Row, history: Sequence[Row]) -> Iterator[str]:
    """Every way `history` breaks the workflow or disagrees with `lead`'s status columns."""
    status, previous_at, reopenings = W.initial, lead["created_at"], 0
    for change in history:
        to = change["to_status"]
        if change["from_status"] != status:
            yield f"change {change['id']} starts from {change['from_status']}, not {status}"
        outcomes = (change["from_outcome"], change["to_outcome"])
        if outcomes != (W.outcome(status).value, W.outcome(to).value):
            yield f"change {change['id']} records the outcomes {outcomes}"
        if (change["pipeline"], change["pipeline_version"], change["from_version"]) != (
            W.pipeline,
            W.version,
            W.version,
        ):
            yield f"change {change['id']} is not on {W.pipeline} version {W.version}"
        if change["reopened"]:
            reopenings += 1
            assert W.reopen is not None
            rule = W.reopen
            if not W.reopenable(status) or to not in W.open_reopen_targets:
                yield f"change {change['id']} reopens {status} to {to}"
        else:
            rule = W.reasons[to]
            if to not in W.allowed_targets(status):
                yield f"change {change['id']} moves {status} to {to}"
        reason = rule.reason(change["reason"])
        if reason is None:
            yield f"change {change['id']}: {change['reason']} is no reason for {to}"
        else:
            missing = {f for f in reason.requires if change[f.value] in (None, "")}
            if missing:
                yield f"change {change['id']} lacks {missing}"
        given = {f for f in ExtraField if change[f.value] is not None}
        if not given <= rule.accepted:
            yield f"change {change['id']} carries {given - rule.accepted}"
        if not previous_at < change["at"] <= NOW:
            yield f"change {change['id']} at {change['at']} is out of order or after now"
        if change["revisit_at"] is not None and change["revisit_at"] <= change["at"]:
            yield f"change {change['id']} revisits in the past"
        if change["actor"] != change["owner"]:
            yield f"change {change['id']} was made by {change['actor']}, not the owner"
        status, previous_at = to, change["at"]
    last = history[-1] if history else None
    closed = not W.is_open(status)
    expected = {
        "status": status,
        "outcome": W.outcome(status).value,
        "pipeline": W.pipeline,
        "pipeline_version": W.version,
        "version": 1 + len(history),
        "reopen_count": reopenings,
        "status_reason": last["reason"] if last else None,
        "closed_from": last["from_status"] if last and closed else None,
        "closed_at": last["at"] if last and closed else None,
        "revisit_at": last["revisit_at"] if last else None,
        "updated_at": last["at"] if last else lead["created_at"],
        "status_since": last["at"] if last else lead["created_at"],
    }
    for column, value in expected.items():
        if lead[column] != value:
            yield f"lead {lead['id']}: {column} is {lead[column]!r}, the history says {value!r}"


async def test_every_history_replays_through_the_workflow(
    pool: asyncpg.Pool, database_url: str
) -> None:
    summary = await seed_demo(database_url, PLAN)
    leads, histories = await seeded(pool)
    assert summary.leads == len(leads) == 300
    assert summary.changes == sum(len(h) for h in histories.values())
    broken = [problem for lead in leads for problem in replay(lead, histories[lead["id"]])]
    assert broken == []
    # The replay above must have had every kind of step to check.
    changes = [c for h in histories.values() for c in h]
    assert {c["to_status"] for c in changes} == set(W.keys) - {W.initial}
    assert any(c["reopened"] for c in changes)
    assert any(c["note"] for c in changes) and any(c["competitor"] for c in changes)
    assert max(len(h) for h in histories.values()) >= 6


async def test_leads_carry_believable_descriptive_fields(
    pool: asyncpg.Pool, database_url: str
) -> None:
    await seed_demo(database_url, PLAN)
    leads, _ = await seeded(pool)
    required = ("first_name", "last_name", "company", "title", "source", "owner", "segment")
    assert all(lead[c] for lead in leads for c in (*required, "country", "currency"))
    assert all(lead["estimated_value"] > 0 for lead in leads)
    assert len({lead["email"].lower() for lead in leads}) == len(leads)
    assert all(f"+{PLAN.seed}.{lead['id']}@" in lead["email"] for lead in leads)
    opened = NOW - timedelta(days=2 * 365)
    assert all(opened <= lead["created_at"] <= NOW for lead in leads)
    assert len({lead["source"] for lead in leads}) == 8
    assert {lead["segment"] for lead in leads} == {"smb", "mid_market", "enterprise"}
    assert len({lead["owner"] for lead in leads}) >= 10
    assert [lead["created_at"] for lead in leads] == sorted(lead["created_at"] for lead in leads)


async def test_late_stage_deals_carry_a_close_date_ahead_and_often_the_reps_probability(
    pool: asyncpg.Pool, database_url: str
) -> None:
    await seed_demo(database_url, PLAN)
    leads, _ = await seeded(pool)
    late = [lead for lead in leads if lead["status"] in ("qualified", "negotiating")]
    rest = [lead for lead in leads if lead["status"] not in ("qualified", "negotiating")]
    assert late and rest
    today = NOW.date()
    assert all(today < lead["expected_close_date"] <= today + timedelta(days=120) for lead in late)
    soon = [(lead["expected_close_date"] - today).days for lead in late]
    negotiating = [d for d, lead in zip(soon, late, strict=True) if lead["status"] == "negotiating"]
    qualified = [d for d, lead in zip(soon, late, strict=True) if lead["status"] == "qualified"]
    assert negotiating and qualified
    assert max(negotiating) <= 45 and min(qualified) >= 21
    judged = [lead["probability"] for lead in late if lead["probability"] is not None]
    assert 0.3 <= len(judged) / len(late) <= 0.9
    assert all(0.05 <= p <= 0.95 and round(p * 20) == p * 20 for p in judged)
    assert all((lead["probability"], lead["expected_close_date"]) == (None, None) for lead in rest)


def _share(rows: Sequence[Row], where: Mapping[str, str], statuses: set[str]) -> float:
    chosen = [r for r in rows if all(r[k] == v for k, v in where.items())]
    assert chosen, f"no lead has {where}"
    return sum(r["status"] in statuses for r in chosen) / len(chosen)


async def test_the_history_shows_the_skew_the_metrics_should_reveal(
    pool: asyncpg.Pool, database_url: str
) -> None:
    await seed_demo(database_url, dataclasses.replace(PLAN, leads=3000))
    leads, histories = await seeded(pool)
    bad = {"dead", "disqualified"}
    assert _share(leads, {"source": "purchased_list"}, bad) > 0.6
    assert _share(leads, {"source": "referral"}, bad) < 0.2
    assert _share(leads, {"source": "referral"}, {"won"}) > 3 * _share(
        leads, {"source": "cold_outbound"}, {"won"}
    )
    changes = [c for h in histories.values() for c in h]
    decided: dict[str, Counter[str]] = defaultdict(Counter)
    for c in changes:
        if c["to_status"] in ("won", "lost"):
            decided[c["owner"]][c["to_status"]] += 1
    win_rates = [o["won"] / o.total() for o in decided.values() if o.total() >= 30]
    assert len(win_rates) >= 8 and max(win_rates) - min(win_rates) > 0.2
    losses = [c for c in changes if c["to_status"] == "lost"]
    assert len({c["reason"] for c in losses}) == 6
    assert len({c["competitor"] for c in losses if c["reason"] == "competitor"}) >= 5
    value = {
        segment: statistics.median(
            lead["estimated_value"]
            for lead in leads
            if lead["segment"] == segment and lead["currency"] == "USD"
        )
        for segment in ("smb", "mid_market", "enterprise")
    }
    assert value["smb"] * 3 < value["mid_market"] < value["enterprise"] / 3
    created = {lead["id"]: lead["created_at"] for lead in leads}
    segment = {lead["id"]: lead["segment"] for lead in leads}
    days_to_win: dict[str, list[float]] = defaultdict(list)
    for c in changes:
        if c["to_status"] == "won":
            days_to_win[segment[c["lead_id"]]].append((c["at"] - created[c["lead_id"]]).days)
    assert 3 <= statistics.median(days_to_win["smb"]) < 60
    assert statistics.median(days_to_win["enterprise"]) > 2 * statistics.median(days_to_win["smb"])


async def test_reopenings_recycles_and_open_leads_look_like_a_real_pipeline(
    pool: asyncpg.Pool, database_url: str
) -> None:
    await seed_demo(database_url, dataclasses.replace(PLAN, leads=3000))
    leads, histories = await seeded(pool)
    reopened_from = Counter(
        c["from_status"] for h in histories.values() for c in h if c["reopened"]
    )
    assert set(reopened_from) == set(W.reopenable_statuses)
    reopened_then_won = [
        lead for lead in leads if lead["reopen_count"] > 0 and lead["status"] == "won"
    ]
    assert len(reopened_then_won) >= 10
    recycled = [lead for lead in leads if lead["status"] == "recycled"]
    due = [lead for lead in recycled if lead["revisit_at"] <= NOW]
    assert due and len(due) < len(recycled), "some recycled leads are due now, some later"
    open_leads = [lead for lead in leads if lead["outcome"] == "open"]
    assert {lead["status"] for lead in open_leads} == set(W.open_statuses)
    closed = [lead for lead in leads if lead["outcome"] != "open"]
    recent = NOW - timedelta(days=60)
    open_recent = sum(lead["created_at"] > recent for lead in open_leads) / len(open_leads)
    closed_recent = sum(lead["created_at"] > recent for lead in closed) / len(closed)
    assert open_recent > 0.5 > closed_recent
    # Under the demo's staleness per status, some deals in every open status have rotted, as
    # in a real pipeline, while most of the pipeline is being worked.
    stale = Counter(
        lead["status"]
        for lead in open_leads
        if NOW - lead["status_since"]
        > timedelta(days=DEMO_PROPERTIES[lead["status"]]["stale_after_days"])
    )
    assert set(stale) == set(W.open_statuses)
    assert 0.1 < sum(stale.values()) / len(open_leads) < 0.6


async def test_owner_changes_show_in_the_history(pool: asyncpg.Pool, database_url: str) -> None:
    await seed_demo(database_url, PLAN)
    leads, histories = await seeded(pool)
    handed_over = [
        lead
        for lead in leads
        if len({c["owner"] for c in histories[lead["id"]]}) > 1
        and lead["owner"] == histories[lead["id"]][-1]["owner"] != histories[lead["id"]][0]["owner"]
    ]
    assert len(handed_over) >= 5


async def _dump(pool: asyncpg.Pool) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    leads, histories = await seeded(pool)
    return [tuple(r) for r in leads], [tuple(c) for h in histories.values() for c in h]


async def _empty(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE leads, lead_status_changes RESTART IDENTITY CASCADE")


async def test_the_same_seed_gives_the_same_rows(pool: asyncpg.Pool, database_url: str) -> None:
    await seed_demo(database_url, PLAN)
    first = await _dump(pool)
    await _empty(pool)
    await seed_demo(database_url, dataclasses.replace(PLAN, workers=1))
    assert await _dump(pool) == first
    await _empty(pool)
    await seed_demo(database_url, dataclasses.replace(PLAN, seed=PLAN.seed + 1))
    assert await _dump(pool) != first


async def test_a_second_seed_appends_and_the_api_carries_on(
    pool: asyncpg.Pool, database_url: str, client: httpx.AsyncClient
) -> None:
    first = await seed_demo(database_url, PLAN)
    second = await seed_demo(database_url, dataclasses.replace(PLAN, leads=200))
    assert (first.first_lead_id, second.first_lead_id) == (1, 301)
    assert second.existing_leads == 300
    ids = await pool.fetchrow(
        "SELECT min(id) FILTER (WHERE lead_id > 300) AS first, max(id) AS last"
        " FROM lead_status_changes"
    )
    assert (ids["first"], ids["last"]) == (first.changes + 1, first.changes + second.changes)
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await client.get(
            "/v1/leads", params={"limit": 200, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        listed += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(lead["id"] for lead in listed) == list(range(1, 501))
    seeded_lead = listed[0]
    history = await client.get(f"/v1/leads/{seeded_lead['id']}/history")
    assert len(history.json()) == seeded_lead["version"] - 1
    created = await client.post("/v1/leads", json={"email": "after.seed@example.com"})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == 501
    moved = await client.post(
        "/v1/leads/501/transitions", json={"to": "contacted", "reason": "call_connected"}
    )
    assert moved.status_code == 200, moved.text
    newest = await pool.fetchval("SELECT max(id) FROM lead_status_changes")
    assert newest == first.changes + second.changes + 1


async def test_if_fewer_seeds_only_a_database_short_of_leads(
    pool: asyncpg.Pool, database_url: str
) -> None:
    once = dataclasses.replace(PLAN, if_fewer=True)
    assert (await seed_demo(database_url, once)).leads == 300
    again: SeedSummary = await seed_demo(database_url, once)
    assert again.skipped and again.existing_leads == 300
    more = await seed_demo(database_url, dataclasses.replace(once, leads=400))
    assert more.leads == 400
    assert await pool.fetchval("SELECT count(*) FROM leads") == 700


async def test_a_failed_load_leaves_the_database_as_it_was(
    pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_copy(conn: asyncpg.Connection, rows: Any) -> None:
        raise RuntimeError("connection lost mid-load")

    monkeypatch.setattr(bulk, "copy_changes", broken_copy)
    with pytest.raises(RuntimeError):
        await seed_demo(database_url, PLAN)
    assert await pool.fetchval("SELECT count(*) FROM leads") == 0


async def test_the_command_seeds_up_to_the_given_now(
    pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    args = ["seed", "--leads", "40", "--seed", "3", "--now", "2025-01-31T09:00:00"]
    try:
        # In a thread: the command runs its own event loop, as it does from a shell.
        result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Seeded 40 leads" in result.output and "rows/s" in result.output
    latest = await pool.fetchval("SELECT max(updated_at) FROM leads")
    given_now = datetime(2025, 1, 31, 9, tzinfo=UTC)
    assert given_now - timedelta(days=30) < latest <= given_now
    assert await pool.fetchval("SELECT count(*) FROM leads") == 40
    # The untouched default pipeline got the demo's forecast and hygiene properties.
    tuned = await pool.fetch(
        "SELECT key, probability, stale_after_days, forecast_category FROM pipeline_statuses"
        " WHERE pipeline = 'default' AND version = 2 AND outcome = 'open' ORDER BY position"
    )
    assert {r["key"]: dict(r) for r in tuned} == {
        key: {"key": key, **properties} for key, properties in DEMO_PROPERTIES.items()
    }
    assert "version 2" in result.output
