"""A lead's own win probability and expected close date: written, validated, kept and announced
like every descriptive field."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.http_support import assert_problem, create, move


async def test_probability_and_close_date_are_kept_edited_and_cleared(
    client: httpx.AsyncClient,
) -> None:
    lead = await create(
        client, "forecast@example.com", probability=0.35, expected_close_date="2027-03-31"
    )
    assert (lead["probability"], lead["expected_close_date"]) == (0.35, "2027-03-31")
    plain = await create(client, "plain@example.com")
    assert (plain["probability"], plain["expected_close_date"]) == (None, None)
    url = f"/v1/leads/{lead['id']}"
    r = await client.patch(url, json={"probability": 1, "expected_close_date": "2027-04-15"})
    assert r.status_code == 200, r.text
    assert (r.json()["probability"], r.json()["expected_close_date"]) == (1.0, "2027-04-15")
    r = await client.patch(url, json={"probability": None, "expected_close_date": None})
    assert r.status_code == 200, r.text
    stored = (await client.get(url)).json()
    assert (stored["probability"], stored["expected_close_date"]) == (None, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("probability", 1.5),
        ("probability", -0.1),
        ("probability", "likely"),
        ("expected_close_date", "2027-02-30"),
        ("expected_close_date", "next quarter"),
    ],
)
async def test_a_probability_outside_0_to_1_or_a_date_that_is_not_one_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, field: str, value: object
) -> None:
    r = await client.post("/v1/leads", json={"email": "odd@example.com", field: value})
    body = assert_problem(r, 422)
    assert field in r.text
    assert body["errors"]
    assert await pool.fetchval("SELECT count(*) FROM leads") == 0


async def test_the_database_refuses_a_probability_outside_0_to_1_whoever_writes(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead = await create(client, "sql@example.com", probability=0.5)
    for bad in (1.0001, -1.0, float("nan"), float("inf")):
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute("UPDATE leads SET probability = $2 WHERE id = $1", lead["id"], bad)
    assert await pool.fetchval("SELECT probability FROM leads WHERE id = $1", lead["id"]) == 0.5


async def test_the_events_carry_them_and_an_edit_names_them(client: httpx.AsyncClient) -> None:
    lead = await create(client, "told@example.com", probability=0.2)
    r = await client.patch(f"/v1/leads/{lead['id']}", json={"expected_close_date": "2027-06-30"})
    assert r.status_code == 200, r.text
    events = (await client.get("/v1/events", params={"lead_id": lead["id"]})).json()["events"]
    created, updated = events
    assert created["data"]["lead"]["probability"] == 0.2
    assert created["data"]["lead"]["expected_close_date"] is None
    assert updated["data"]["changed"] == ["expected_close_date"]
    assert updated["data"]["previous"] == {"expected_close_date": None}
    assert updated["data"]["lead"]["expected_close_date"] == "2027-06-30"


async def test_a_batch_import_carries_them_and_refuses_a_bad_one_per_item(
    client: httpx.AsyncClient,
) -> None:
    leads = [
        {"email": "b1@example.com", "probability": 0.9, "expected_close_date": "2027-01-15"},
        {"email": "b2@example.com", "probability": 2},
    ]
    r = await client.post("/v1/leads:batch", json={"leads": leads})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["result"] for i in items] == ["created", "rejected"]
    assert "probability" in items[1]["problem"]["detail"]
    first = (await client.get(f"/v1/leads/{items[0]['id']}")).json()
    assert (first["probability"], first["expected_close_date"]) == (0.9, "2027-01-15")


async def test_each_status_change_records_the_deals_value_as_it_was(
    client: httpx.AsyncClient,
) -> None:
    lead = await create(client, "valued@example.com", estimated_value="100.00", currency="EUR")
    assert (await move(client, lead["id"], "contacted", "call_connected")).status_code == 200
    edited = await client.patch(
        f"/v1/leads/{lead['id']}", json={"estimated_value": "250.50", "currency": "USD"}
    )
    assert edited.status_code == 200
    assert (await move(client, lead["id"], "qualified", "budget_confirmed")).status_code == 200
    assert (await move(client, lead["id"], "lost", "price")).status_code == 200
    later = await client.patch(f"/v1/leads/{lead['id']}", json={"estimated_value": "999.00"})
    assert later.status_code == 200
    history = (await client.get(f"/v1/leads/{lead['id']}/history")).json()
    assert [(h["estimated_value"], h["currency"]) for h in history] == [
        ("100.00", "EUR"),
        ("250.50", "USD"),
        ("250.50", "USD"),
    ]


@pytest.mark.parametrize("period", ["month", "quarter"])
async def test_the_forecast_takes_close_dates_at_either_end_of_the_calendar(
    client: httpx.AsyncClient, pool: asyncpg.Pool, period: str
) -> None:
    """Any date is a valid expected close date; the forecast lists its period and still counts
    the deals won up to now, whose span ends with the current period."""
    money = {"estimated_value": "10", "currency": "EUR"}
    await create(client, "far@example.com", **money, expected_close_date="9999-12-31")
    await create(client, "early@example.com", **money, expected_close_date="0001-01-01")
    won = await create(client, "won@example.com", estimated_value="7", currency="EUR")
    assert (await move(client, won["id"], "qualified", "budget_confirmed")).status_code == 200
    assert (await move(client, won["id"], "won", "contract_signed")).status_code == 200
    await pool.fetchval("SELECT metrics_fold()")
    r = await client.get("/v1/metrics/forecast", params={"period": period})
    assert r.status_code == 200, r.text
    periods = {p["start"]: p for c in r.json()["currencies"] for p in c["periods"]}
    assert "0001-01-01" in periods
    assert ("9999-12-01" if period == "month" else "9999-10-01") in periods
    assert sum(p["closed"]["deals"] for p in periods.values()) == 1
    assert sum(p["closed"]["value"] == "7.00" for p in periods.values()) == 1
