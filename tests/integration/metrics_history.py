"""A random but reproducible sales history, written through the domain rules at chosen times.

Each lead walks the workflow with `Lead.transition()` / `Lead.reopen()` at advancing times, with
owner changes along the way, so the metrics see reopenings, recycles, reassigned deals and leads
still open; the repository records each change exactly as the service does.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import asyncpg

from app.domain.lead import ChangeDetails, Lead, StatusChange
from app.domain.status import REASONS, REOPEN_RULE, REOPENABLE, TRANSITIONS, ExtraField, LeadStatus
from app.repositories.leads import LeadRepository

OWNERS = ["alex", "sam", "kim", None]
SOURCES = ["web", "referral", "purchased_list"]
SEGMENTS = ["smb", "enterprise"]
COMPETITORS = ["Globex", "Initech"]


def _details(rng: random.Random, requires: frozenset[ExtraField], at: datetime) -> ChangeDetails:
    return ChangeDetails(
        note="explained" if ExtraField.NOTE in requires or rng.random() < 0.2 else None,
        competitor=rng.choice(COMPETITORS) if ExtraField.COMPETITOR in requires else None,
        revisit_at=at + timedelta(days=rng.randint(1, 60))
        if ExtraField.REVISIT_AT in requires
        else None,
    )


def _next_change(rng: random.Random, lead: Lead, at: datetime) -> StatusChange | None:
    if lead.status in REOPENABLE:
        if rng.random() < 0.5:
            return None
        reason = rng.choice(REOPEN_RULE.reasons)
        return lead.reopen(reason.code, now=at, details=_details(rng, reason.requires, at))
    targets = sorted(TRANSITIONS[lead.status])
    if not targets or rng.random() < 0.15:
        return None
    to = rng.choice(targets)
    reason = rng.choice(REASONS[to].reasons)
    details = _details(rng, reason.requires, at)
    if to is LeadStatus.LOST and reason.code != "competitor" and rng.random() < 0.3:
        details = replace(details, competitor=rng.choice(COMPETITORS))
    return lead.transition(to, reason.code, now=at, details=details)


async def write_history(pool: asyncpg.Pool, *, leads: int, seed: int, now: datetime) -> None:
    rng = random.Random(seed)
    async with pool.acquire() as conn:
        repo = LeadRepository(conn)
        for n in range(leads):
            created = now - timedelta(days=rng.uniform(0, 200))
            row = await repo.insert(
                {
                    "email": f"m{seed}.{n}@example.com",
                    "owner": rng.choice(OWNERS),
                    "source": rng.choice(SOURCES),
                    "segment": rng.choice(SEGMENTS),
                    "attributes": {},
                }
            )
            await conn.execute("UPDATE leads SET created_at = $2 WHERE id = $1", row["id"], created)
            lead, at = Lead(), created
            for _ in range(8):
                at += timedelta(hours=rng.uniform(1, 24 * 20))
                if at >= now:
                    break
                if rng.random() < 0.2:
                    # Reassignments, and now and then a corrected source: later changes carry them.
                    edit = {"owner": rng.choice(OWNERS)}
                    if rng.random() < 0.25:
                        edit = {"source": rng.choice(SOURCES)}
                    await repo.update_fields(row["id"], edit, expected_version=None)
                    lead = replace(lead, version=lead.version + 1)
                change = _next_change(rng, lead, at)
                if change is None:
                    break
                assert await repo.record_change(row["id"], lead, change) is not None
                lead = lead.apply(change)
