"""`leadstatus source ...` and `leadstatus intake replay` against the real database."""

from __future__ import annotations

import asyncpg
import httpx

from tests.cli_runner import leadstatus


async def test_sources_are_added_listed_rotated_and_removed(
    cli_env: None, pool: asyncpg.Pool
) -> None:
    added = await leadstatus("source", "add", "forms", "--kind", "standard", "--owner", "alex")
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and len(secret) > 40
    stored = await pool.fetchrow("SELECT * FROM intake_sources WHERE name = 'forms'")
    assert stored["default_owner"] == "alex" and secret not in stored["secret"]

    again = await leadstatus("source", "add", "forms", "--kind", "marketo")
    assert again.exit_code == 1 and "exists already" in again.output

    listed = await leadstatus("source", "list")
    assert listed.exit_code == 0 and "forms\tstandard\t/v1/intake/forms" in listed.stdout
    assert secret not in listed.output

    rotated = await leadstatus("source", "rotate-secret", "forms")
    assert rotated.exit_code == 0, rotated.output
    assert rotated.stdout.strip().splitlines()[-1] not in (secret, "")
    assert await pool.fetchval("SELECT previous_secret_until > now() FROM intake_sources")

    given = await leadstatus("source", "add", "hs", "--kind", "hubspot", "--secret", "x" * 36)
    assert given.stdout.strip().splitlines()[-1] == "x" * 36
    short = await leadstatus("source", "add", "mc", "--kind", "mailchimp", "--secret", "short")
    assert short.exit_code == 1 and "16 characters" in short.output

    assert (await leadstatus("source", "remove", "forms")).exit_code == 0
    assert (await leadstatus("source", "remove", "forms")).exit_code == 1
    assert await pool.fetchval("SELECT count(*) FROM intake_sources") == 1


async def test_replay_reads_stored_deliveries_with_the_fixed_map(
    cli_env: None, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    added = await leadstatus("source", "add", "mkto", "--kind", "marketo")
    secret = added.stdout.strip().splitlines()[-1]
    body = {"email": "org@example.com", "Org": "Initech", "firstName": "Pat"}
    r = await client.post("/v1/intake/mkto", json=body, headers={"x-webhook-secret": secret})
    assert r.status_code == 200, r.text
    lead_id = r.json()["lead_id"]
    assert (await client.get(f"/v1/leads/{lead_id}")).json()["company"] is None

    fixed = await leadstatus("source", "update", "mkto", "--map", "company=Org")
    assert fixed.exit_code == 0, fixed.output
    replayed = await leadstatus("intake", "replay", "--source", "mkto", "--since", "2000-01-01")
    assert replayed.exit_code == 0, replayed.output
    assert "filled 1" in replayed.output
    lead = (await client.get(f"/v1/leads/{lead_id}")).json()
    assert (lead["company"], lead["first_name"], lead["version"]) == ("Initech", "Pat", 2)

    twice = await leadstatus("intake", "replay", "--source", "mkto", "--since", "2000-01-01")
    assert "unchanged 1" in twice.output
    missing = await leadstatus("intake", "replay", "--source", "nope", "--since", "2000-01-01")
    assert missing.exit_code == 1
