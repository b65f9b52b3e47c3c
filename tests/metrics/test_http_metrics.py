"""The metrics API against an independent computation over the same history: leads of the
default pipeline and of a custom one (examples/enterprise.json), whose version 2 removed two
statuses and remapped their leads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from app.pipelines.cache import Workflows
from tests.metrics.metrics_history import (
    ENTERPRISE,
    define_enterprise,
    edit_enterprise_with_remap,
    stage_lists,
    status_properties,
    write_history,
)
from tests.metrics.metrics_oracle import (
    Filters,
    OpenMoney,
    Oracle,
    first_contact,
    revenue,
    stale,
)

NOW = datetime.now(UTC).replace(microsecond=0)


async def read_oracle(pool: asyncpg.Pool) -> Oracle:
    """The oracle over everything the database holds now."""
    leads = await pool.fetch("SELECT * FROM leads")
    changes = await pool.fetch("SELECT * FROM lead_status_changes")
    current = {r["name"]: r["current_version"] for r in await pool.fetch("SELECT * FROM pipelines")}
    return Oracle(
        [dict(x) for x in leads], [dict(x) for x in changes], await stage_lists(pool), current
    )


@pytest.fixture
async def oracle(pool: asyncpg.Pool, workflows: Workflows) -> Oracle:
    await define_enterprise(pool, workflows)
    await write_history(pool, workflows, leads=160, seed=7, now=NOW)
    await write_history(pool, workflows, leads=140, seed=7, now=NOW, pipeline=ENTERPRISE)
    # Recent leads, mostly still open: some in the status the edit removes.
    await write_history(pool, workflows, leads=30, seed=8, now=NOW, pipeline=ENTERPRISE, days=30)
    moved = await edit_enterprise_with_remap(pool, workflows)
    assert all(moved.values()), f"both remaps must move leads: {moved}"
    found = await read_oracle(pool)
    changes = [c for cs in found.history.values() for c in cs]
    assert any(c["reopened"] for c in changes), "the history must include reopenings"
    assert any(c["to_outcome"] == "recycled" for c in changes)
    assert {c["pipeline"] for c in changes if c["to_outcome"] == "won"} == {"default", ENTERPRISE}
    return found


def _params(f: Filters) -> dict[str, str]:
    params = {"from": f.start.isoformat(), "to": f.end.isoformat()}
    params.update(
        {k: v for k in ("owner", "source", "segment", "pipeline") if (v := getattr(f, k))}
    )
    return params


MIDNIGHT = NOW.replace(hour=0, minute=0, second=0)
INSTANTS = [
    Filters(NOW - timedelta(days=90), NOW),
    Filters(NOW - timedelta(days=200), NOW - timedelta(days=30)),
    Filters(NOW - timedelta(days=365), NOW + timedelta(days=1), owner="alex"),
    Filters(NOW - timedelta(days=365), NOW + timedelta(days=1), source="purchased_list"),
    Filters(NOW - timedelta(days=120), NOW, segment="enterprise", owner="sam"),
    Filters(NOW - timedelta(days=365), NOW + timedelta(days=1), pipeline=ENTERPRISE),
    Filters(NOW - timedelta(days=150), NOW, pipeline="default", owner="alex"),
]
"""Windows cut mid-day: answered from the history itself."""
WHOLE_DAYS = [
    Filters(MIDNIGHT - timedelta(days=89), MIDNIGHT + timedelta(days=1)),
    Filters(MIDNIGHT - timedelta(days=200), MIDNIGHT - timedelta(days=30)),
    Filters(MIDNIGHT - timedelta(days=365), MIDNIGHT + timedelta(days=1), owner="alex"),
    Filters(MIDNIGHT - timedelta(days=365), MIDNIGHT + timedelta(days=1), segment="smb"),
    Filters(MIDNIGHT - timedelta(days=120), MIDNIGHT, segment="enterprise", owner="sam"),
    Filters(MIDNIGHT - timedelta(days=150), MIDNIGHT, source="referral", owner="alex"),
    Filters(MIDNIGHT - timedelta(days=365), MIDNIGHT + timedelta(days=1), pipeline=ENTERPRISE),
    Filters(MIDNIGHT - timedelta(days=89), MIDNIGHT + timedelta(days=1), pipeline="default"),
    Filters(
        MIDNIGHT - timedelta(days=200),
        MIDNIGHT + timedelta(days=1),
        pipeline=ENTERPRISE,
        owner="kim",
    ),
    Filters(
        MIDNIGHT - timedelta(days=200), MIDNIGHT, pipeline=ENTERPRISE, source="web", segment="smb"
    ),
]
"""Windows of whole UTC days: answered from the rollups (two filters: durations from history)."""
SCOPES = INSTANTS + WHOLE_DAYS


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(f"/v1/metrics/{path}", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert actual[key] == value, key


@pytest.mark.parametrize("scope", SCOPES)
async def test_summary_matches_the_definitions(
    client: httpx.AsyncClient, oracle: Oracle, scope: Filters
) -> None:
    body = await get(client, "summary", **_params(scope))
    expected = oracle.summary(scope, datetime.now(UTC))
    assert body["closed"] > 0 or scope.segment, "the scope must contain closings"
    _same(body, expected)
    assert body["window"]["owner"] == scope.owner and body["window"]["source"] == scope.source
    assert body["window"]["pipeline"] == scope.pipeline


@pytest.mark.parametrize("scope", SCOPES)
async def test_loss_reasons_match(
    client: httpx.AsyncClient, oracle: Oracle, scope: Filters
) -> None:
    body = await get(client, "loss-reasons", **_params(scope))
    expected = oracle.loss_reasons(scope)
    assert body["lost"] == expected["lost"]
    assert scope is not SCOPES[0] or expected["lost"] > 0, "the main window must contain losses"
    assert {x["reason"]: x["count"] for x in body["by_reason"]} == expected["by_reason"]
    assert {x["competitor"]: x["count"] for x in body["by_competitor"]} == expected["by_competitor"]
    assert {x["status"]: x["count"] for x in body["by_from_status"]} == expected["by_from_status"]
    assert body["no_decision"] == expected["no_decision"]
    reasons = {x["reason"]: x["count"] for x in body["no_decision_by_reason"]}
    assert reasons == expected["no_decision_by_reason"]
    counts = [x["count"] for x in body["by_reason"]]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("scope", SCOPES)
async def test_revenue_matches_per_currency(
    client: httpx.AsyncClient, oracle: Oracle, scope: Filters
) -> None:
    body = await get(client, "revenue", **_params(scope))
    expected = revenue(oracle, scope)
    assert scope is not SCOPES[0] or len(expected) >= 3, "the main window spans currencies"
    found = {}
    for entry in body["currencies"]:
        found[entry["currency"]] = {
            **{o: entry[o] for o in ("won", "lost", "no_decision")},
            **{
                f"lost_by_{key}": {
                    x[name]: (x["deals"], x["revenue"]) for x in entry[f"lost_by_{key}"]
                }
                for key, name in (
                    ("reason", "reason"),
                    ("competitor", "competitor"),
                    ("stage", "status"),
                )
            },
        }
        amounts = [x["revenue"] for x in entry["lost_by_reason"]]
        assert amounts == sorted(amounts, key=Decimal, reverse=True)
    assert found == expected
    codes = [e["currency"] for e in body["currencies"]]
    assert codes == sorted(codes, key=lambda c: (c is None, c or ""))
    if codes and codes[0] is not None:
        one = await get(client, "revenue", **_params(scope), currency=codes[0])
        assert one["currency"] == codes[0] and one["currencies"] == body["currencies"][:1]


OPEN_SCOPES = [
    SCOPES[0],
    Filters(NOW - timedelta(days=120), NOW, segment="enterprise", owner="sam"),
    Filters(MIDNIGHT - timedelta(days=89), MIDNIGHT + timedelta(days=1)),
    Filters(MIDNIGHT - timedelta(days=365), MIDNIGHT + timedelta(days=1), pipeline=ENTERPRISE),
    Filters(MIDNIGHT - timedelta(days=200), MIDNIGHT, pipeline=ENTERPRISE, owner="kim"),
    Filters(MIDNIGHT - timedelta(days=150), MIDNIGHT, source="referral"),
]
"""The open pipeline is now, whatever the window: the window only feeds velocity's terms."""


@pytest.mark.parametrize("scope", OPEN_SCOPES)
async def test_pipeline_value_matches_per_currency_and_status(
    client: httpx.AsyncClient, pool: asyncpg.Pool, oracle: Oracle, scope: Filters
) -> None:
    body = await get(client, "pipeline-value", **_params(scope))
    expected = OpenMoney(oracle, scope, await status_properties(pool), datetime.now(UTC))
    assert body["pipeline"] == expected.pipeline
    assert [c["status"] for c in body["conversion"]] == expected.statuses
    for entry in body["conversion"]:
        assert entry["historical_rate"] == pytest.approx(expected.rates.get(entry["status"]))
    assert {c["currency"] for c in body["currencies"]} == expected.currencies()
    bases = set()
    summary = oracle.summary(replace(scope, pipeline=expected.pipeline), NOW)
    money = revenue(oracle, replace(scope, pipeline=expected.pipeline))
    for entry in body["currencies"]:
        want = expected.value(entry["currency"])
        for status, got in zip(want["statuses"], entry["statuses"], strict=True):
            assert got["probability"] == pytest.approx(status.pop("probability"))
            assert {k: got[k] for k in status} == status
            bases.add(got["probability_basis"])
        assert {k: entry[k] for k in ("deals", "valued", "value", "weighted")} == {
            k: want[k] for k in ("deals", "valued", "value", "weighted")
        }
        velocity = entry["velocity"]
        average = money.get(entry["currency"], {}).get("won", {}).get("average_deal")
        assert velocity["open_deals"] == want["valued"]
        assert velocity["win_rate"] == pytest.approx(summary["win_rate"])
        assert velocity["average_deal"] == average
        assert velocity["median_cycle_days"] == summary["median_days_to_won"]
        terms = (summary["win_rate"], average, summary["median_days_to_won"])
        if None in terms or not terms[2]:
            assert velocity["per_day"] is None
        else:
            per_day = (
                Decimal(want["valued"])
                * Decimal(str(terms[0]))
                * Decimal(str(average))
                / Decimal(str(terms[2]))
            )
            assert velocity["per_day"] == f"{per_day.quantize(Decimal('0.01'), ROUND_HALF_EVEN)}"
    if scope is OPEN_SCOPES[3]:
        assert bases >= {"pipeline", "history"}, "both kinds of probability must be exercised"


@pytest.mark.parametrize("period", ["month", "quarter"])
@pytest.mark.parametrize("scope", OPEN_SCOPES[2:4])
async def test_forecast_matches_per_period_and_category(
    client: httpx.AsyncClient, pool: asyncpg.Pool, oracle: Oracle, scope: Filters, period: str
) -> None:
    body = await get(client, "forecast", **_params(scope), period=period)
    expected = OpenMoney(oracle, scope, await status_properties(pool), datetime.now(UTC))
    current, won = expected.won(period)
    assert {c["currency"] for c in body["currencies"]} == expected.currencies() | set(won)
    categories_seen = set()
    closed_seen = 0
    none = {"deals": 0, "value": "0.00", "weighted": "0.00"}
    for entry in body["currencies"]:
        want = expected.forecast(entry["currency"], period)
        closed = won.get(entry["currency"], {})
        starts = [p["start"] for p in entry["periods"]]
        assert starts == sorted({s for s in want if s is not None} | set(closed) | {current})
        got = {p["start"]: p["categories"] for p in entry["periods"]}
        if entry["unscheduled"] is not None:
            got[None] = entry["unscheduled"]
        empty = {s: {c: none for c in got[s]} for s in starts if s not in want}
        assert got == want | empty
        for p in entry["periods"]:
            deals, won_value = closed.get(p["start"], (0, "0.00"))
            assert p["closed"] == {"deals": deals, "value": won_value}
            closed_seen += deals
            cells = p["categories"]
            value = {c: Decimal(cells[c]["value"]) for c in cells}
            value["closed"] = Decimal(won_value)
            assert p["cumulative"] == {
                "closed": f"{value['closed']:.2f}",
                "commit": f"{value['closed'] + value['commit']:.2f}",
                "best_case": f"{value['closed'] + value['commit'] + value['best_case']:.2f}",
                "pipeline": f"{value['commit'] + value['best_case'] + value['pipeline']:.2f}",
            }
            categories_seen |= {c for c in cells if cells[c]["deals"]}
    if scope.pipeline == ENTERPRISE:
        # Its best-case stages are the ones version 2 added, which no lead has reached yet.
        assert categories_seen >= {"commit", "pipeline", "omitted"}
    if scope.owner is None:
        assert closed_seen, "won deals must fall in the forecast's periods"


@pytest.mark.parametrize("scope", OPEN_SCOPES)
async def test_hygiene_matches_stale_deals_and_first_contact_times(
    client: httpx.AsyncClient, pool: asyncpg.Pool, oracle: Oracle, scope: Filters
) -> None:
    body = await get(client, "hygiene", **_params(scope))
    now = datetime.now(UTC)
    money = OpenMoney(oracle, scope, await status_properties(pool), now)
    counts = stale(money, now)
    statuses = body["stale"]["by_status"]
    assert [s["status"] for s in statuses] == money.statuses
    for entry in statuses:
        mine = [v for (status, _), v in counts.items() if status == entry["status"]]
        assert (entry["open"], entry["stale"]) == (
            sum(v[0] for v in mine),
            sum(v[1] for v in mine),
        )
        assert entry["stale_after_days"] == money.properties[entry["status"]][2]
    owners = {o["owner"]: (o["open"], o["stale"]) for o in body["stale"]["by_owner"]}
    assert owners == {
        owner: (
            sum(v[0] for (_, o), v in counts.items() if o == owner),
            sum(v[1] for (_, o), v in counts.items() if o == owner),
        )
        for owner in {o for _, o in counts}
    }
    if scope.pipeline == ENTERPRISE and scope.owner is None:
        assert 0 < body["stale"]["stale"] < body["stale"]["open"], "some deals, not all, are stale"
    contact = body["first_contact"]
    assert contact["status"] == money.statuses[0]
    assert contact["waiting"] == sum(1 for x in money.leads if x["status"] == money.statuses[0])
    overall = first_contact(oracle, scope, None).get(None)
    expected = overall or {"contacted": 0, "median_days": None, "p90_days": None}
    assert {k: contact[k] for k in expected} == pytest.approx(expected)
    for by in ("owner", "source"):
        fields = ("contacted", "median_days", "p90_days")
        got = {x[by]: {k: x[k] for k in fields} for x in contact[f"by_{by}"]}
        want = first_contact(oracle, scope, by)
        assert set(got) == set(want)
        for value, figures in want.items():
            assert got[value] == pytest.approx(figures), (by, value)


@pytest.mark.parametrize("scope", SCOPES)
async def test_owners_match_and_sort(
    client: httpx.AsyncClient, oracle: Oracle, scope: Filters
) -> None:
    body = await get(client, "owners", **_params(scope), limit=200)
    expected = oracle.owners(scope)
    assert body["total"] == len(expected) == len(body["items"])
    for item in body["items"]:
        _same(item, expected[item["owner"]])
    by_won = await get(client, "owners", **_params(scope), sort="won", order="desc")
    wins = [x["won"] for x in by_won["items"]]
    assert wins == sorted(wins, reverse=True)
    page = await get(
        client, "owners", **_params(scope), sort="leads", order="asc", limit=2, offset=1
    )
    everything = await get(client, "owners", **_params(scope), sort="leads", order="asc")
    assert page["items"] == everything["items"][1:3]


@pytest.mark.parametrize("scope", SCOPES)
async def test_sources_match(client: httpx.AsyncClient, oracle: Oracle, scope: Filters) -> None:
    body = await get(client, "sources", **_params(scope))
    expected = oracle.sources(scope)
    assert {x["source"] for x in body["items"]} == set(expected)
    for item in body["items"]:
        _same(item, expected[item["source"]])


@pytest.mark.parametrize("scope", SCOPES)
async def test_funnel_matches(client: httpx.AsyncClient, oracle: Oracle, scope: Filters) -> None:
    body = await get(client, "funnel", **_params(scope))
    expected = oracle.funnel(scope)
    assert body["pipeline"] == (scope.pipeline or "default")
    assert body["version"] == (2 if scope.pipeline == ENTERPRISE else 1)
    assert [s["status"] for s in body["stages"]] == [s["status"] for s in expected]
    for actual, wanted in zip(body["stages"], expected, strict=True):
        _same(actual, wanted)
    assert body["stages"][0]["reached"] > 0


async def test_timeseries_buckets_cover_the_window(
    client: httpx.AsyncClient, oracle: Oracle
) -> None:
    scope = Filters(datetime(NOW.year, NOW.month, 1, tzinfo=UTC) - timedelta(days=95), NOW)
    for metric, key in (("created", "created"), ("won", None), ("win_rate", "win_rate")):
        body = await get(client, "timeseries", **_params(scope), metric=metric, interval="month")
        starts = [datetime.fromisoformat(p["start"]) for p in body["points"]]
        assert starts == sorted(starts) and len(starts) >= 4
        for i, point in enumerate(body["points"]):
            bucket_end = starts[i + 1] if i + 1 < len(starts) else scope.end
            part = Filters(max(starts[i], scope.start), min(bucket_end, scope.end))
            summary = oracle.summary(part, NOW)
            wanted = summary[key] if key else summary["closed_by_status"]["won"]
            assert point["value"] == (pytest.approx(wanted) if wanted is not None else None), (
                metric,
                i,
            )
            if metric != "win_rate":  # a count is a whole number in the JSON, never 3.0
                assert isinstance(point["value"], int), (metric, point)


async def test_empty_buckets_and_windows(client: httpx.AsyncClient, oracle: Oracle) -> None:
    future = {"from": "2031-01-01", "to": "2031-01-21"}
    body = await get(client, "summary", **future)
    assert body["created"] == 0 and body["closed"] == 0
    assert body["win_rate"] is None and body["conversion_rate"] is None
    assert body["reopened_won_rate"] is None and body["median_days_to_won"] is None
    series = await get(client, "timeseries", **future, metric="win_rate", interval="day")
    assert len(series["points"]) == 21 and all(p["value"] is None for p in series["points"])
    weeks = await get(client, "timeseries", **future, metric="created", interval="week")
    assert all(p["value"] == 0 for p in weeks["points"])
    owners = await get(client, "owners", **future)
    assert owners["items"] == [] and owners["total"] == 0


async def test_default_window_is_the_last_90_days(
    client: httpx.AsyncClient, oracle: Oracle
) -> None:
    body = await get(client, "summary")
    start = datetime.fromisoformat(body["window"]["from"])
    end = datetime.fromisoformat(body["window"]["to"])
    assert end - start == timedelta(days=90)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert end == today + timedelta(days=1), "the default window ends with today"
    _same(body, oracle.summary(Filters(start, end), datetime.now(UTC)))


async def test_a_date_to_includes_that_whole_day(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    body = await get(client, "summary", **{"from": "2026-01-01", "to": "2026-01-31"})
    assert body["window"]["to"].startswith("2026-02-01T00:00:00")


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-05-01", "to": "2026-04-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"to": "2026-13-01"},
    ],
)
async def test_bad_windows_are_422(
    client: httpx.AsyncClient, pool: asyncpg.Pool, params: dict[str, str]
) -> None:
    r = await client.get("/v1/metrics/summary", params=params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


async def test_one_lead_won_after_a_loss(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    """Reopened then won: closed once, as won; the earlier loss still counts in loss reasons."""
    lead = (
        await client.post("/v1/leads", json={"email": "one@example.com", "owner": "alex"})
    ).json()
    url = f"/v1/leads/{lead['id']}"
    steps = [
        ("transitions", {"to": "qualified", "reason": "need_confirmed"}),
        ("transitions", {"to": "lost", "reason": "competitor", "competitor": "Globex"}),
        ("reopen", {"reason": "competitor_failed"}),
    ]
    for path, body in steps:
        assert (await client.post(f"{url}/{path}", json=body)).status_code == 200
    await client.patch(url, json={"owner": "sam"})
    await client.post(f"{url}/transitions", json={"to": "won", "reason": "contract_signed"})
    summary = await get(client, "summary")
    assert summary["closed"] == 1 and summary["closed_by_status"]["won"] == 1
    assert summary["closed_by_status"]["lost"] == 0 and summary["win_rate"] == 1.0
    assert summary["reopened"] == 1 and summary["reopened_won_rate"] == 1.0
    assert summary["conversion_rate"] == 1.0 and summary["created"] == 1
    losses = await get(client, "loss-reasons")
    assert losses["lost"] == 1 and losses["by_competitor"] == [{"competitor": "Globex", "count": 1}]
    owners = {x["owner"]: x for x in (await get(client, "owners"))["items"]}
    assert owners["sam"]["won"] == 1 and owners["sam"]["leads"] == 1
    assert "alex" not in owners


async def test_the_stages_are_the_current_versions_open_statuses_then_won(
    client: httpx.AsyncClient, oracle: Oracle
) -> None:
    default = await get(client, "funnel")
    assert [s["status"] for s in default["stages"]] == [
        "new",
        "contacted",
        "qualified",
        "negotiating",
        "won",
    ]
    custom = await get(client, "funnel", pipeline=ENTERPRISE, **{"from": "2025-01-01"})
    assert [(s["status"], s["outcome"]) for s in custom["stages"]] == [
        ("lead_in", "open"),
        ("discovery", "open"),
        ("proposal", "open"),
        ("security_review", "open"),
        ("legal_review", "open"),
        ("won", "won"),
    ]
    # Stage 3 held under version 1 was proof_of_concept, under version 2 it is proposal.
    assert custom["stages"][2]["reached"] > 0
    summary = await get(client, "summary", pipeline=ENTERPRISE)
    assert summary["pipeline_name"] == ENTERPRISE
    assert list(summary["pipeline"]) == [s["status"] for s in custom["stages"][:-1]]
    assert list((await get(client, "summary"))["pipeline"]) == [
        "new",
        "contacted",
        "qualified",
        "negotiating",
    ]


async def test_closings_span_pipelines_unless_one_is_named(
    client: httpx.AsyncClient, oracle: Oracle
) -> None:
    window = {"from": (MIDNIGHT - timedelta(days=365)).date().isoformat()}
    every = await get(client, "summary", **window)
    per = [await get(client, "summary", **window, pipeline=p) for p in ("default", ENTERPRISE)]
    for key in ("created", "closed", "reopened"):
        assert every[key] == sum(p[key] for p in per) > 0, key
    for outcome, n in every["closed_by_status"].items():
        assert n == sum(p["closed_by_status"][outcome] for p in per), outcome
    assert set(every["closed_by_status"]) == {
        "won",
        "lost",
        "no_decision",
        "recycled",
        "disqualified",
        "dead",
    }
    assert every["nurture_due"] == sum(p["nurture_due"] for p in per)


@pytest.mark.parametrize(
    "path", ["summary", "loss-reasons", "owners", "sources", "funnel", "timeseries"]
)
async def test_an_unknown_pipeline_is_404_and_a_malformed_one_422(
    client: httpx.AsyncClient, pool: asyncpg.Pool, path: str
) -> None:
    extra = {"metric": "created"} if path == "timeseries" else {}
    r = await client.get(f"/v1/metrics/{path}", params={"pipeline": "nowhere", **extra})
    assert r.status_code == 404 and r.json()["type"] == "/problems/pipeline-not-found", r.text
    r = await client.get(f"/v1/metrics/{path}", params={"pipeline": "No Such", **extra})
    assert r.status_code == 422, r.text
