"""A random but reproducible sales history, written through the domain rules at chosen times.

Each lead walks its pipeline's workflow with `Lead.transition()` / `Lead.reopen()` at advancing
times, with owner changes along the way, so the metrics see reopenings, recycles, reassigned deals
and leads still open; the repository records each change exactly as the service does. Nothing
here names a status: every step is drawn from the workflow, so any pipeline can be walked.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from app.leads.domain import ChangeDetails, Lead, StatusChange
from app.leads.repository import LeadRepository, to_domain
from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.definition import build_workflow
from app.pipelines.service import apply_pipeline
from app.pipelines.workflow import ExtraField, Outcome, ReasonRule, TargetRule, Workflow
from tests.example_pipelines import ENTERPRISE_DOCUMENT

OWNERS = ["alex", "sam", "kim", None]
SOURCES = ["web", "referral", "purchased_list"]
SEGMENTS = ["smb", "enterprise"]
COMPETITORS = ["Globex", "Initech"]
CURRENCIES = ["EUR", "USD", "JPY"]


def money(rng: random.Random, now: datetime) -> dict[str, Any]:
    """A deal's value and currency as reps enter them (mostly both, now and then neither, or a
    currency without a value yet), and half the time the rep's own probability, and mostly an
    expected close date within the year around `now`."""
    draw = rng.random()
    probability = rng.choice([0.05, 0.2, 0.35, 0.5, 0.75, 0.9]) if rng.random() < 0.5 else None
    close = (now + timedelta(days=rng.randint(-90, 270))).date() if rng.random() < 0.8 else None
    forecast = {"probability": probability, "expected_close_date": close}
    if draw < 0.15:
        return {"estimated_value": None, "currency": None, **forecast}
    currency = rng.choice(CURRENCIES)
    if draw < 0.2:
        return {"estimated_value": None, "currency": currency, **forecast}
    cents = rng.randint(50_000, 20_000_000)
    return {"estimated_value": Decimal(cents) / 100, "currency": currency, **forecast}


ENTERPRISE = "enterprise"


def details_for(
    rng: random.Random, rule: TargetRule, reason: ReasonRule, at: datetime
) -> ChangeDetails:
    """What a change with `reason` must carry, plus now and then what it may carry."""
    wanted = set(reason.requires) | {f for f in rule.optional if rng.random() < 0.3}
    return ChangeDetails(
        note="explained" if ExtraField.NOTE in wanted or rng.random() < 0.2 else None,
        competitor=rng.choice(COMPETITORS) if ExtraField.COMPETITOR in wanted else None,
        revisit_at=at + timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 23))
        if ExtraField.REVISIT_AT in wanted
        else None,
        future_opportunity=rng.choice([True, False])
        if ExtraField.FUTURE_OPPORTUNITY in wanted
        else None,
    )


def next_change(
    rng: random.Random, workflow: Workflow, lead: Lead, at: datetime
) -> StatusChange | None:
    """A random next step the workflow allows the lead (None: it stays where it is)."""
    if workflow.reopenable(lead.status) and workflow.reopen is not None:
        if rng.random() < 0.5:
            return None
        reason = rng.choice(workflow.reopen.reasons)
        details = details_for(rng, workflow.reopen, reason, at)
        return lead.reopen(workflow, reason.code, now=at, details=details)
    targets = sorted(workflow.allowed_targets(lead.status))
    if not targets or rng.random() < 0.15:
        return None
    # Half the time the deal moves on (to an open status, or won): pipelines with many ways to
    # close early still win some.
    onward = [t for t in targets if workflow.outcome(t) in (Outcome.OPEN, Outcome.WON)]
    to = rng.choice(onward if onward and rng.random() < 0.5 else targets)
    rule = workflow.reasons[to]
    reason = rng.choice(rule.reasons)
    return lead.transition(
        workflow, to, reason.code, now=at, details=details_for(rng, rule, reason, at)
    )


async def define_enterprise(pool: asyncpg.Pool, workflows: Workflows) -> Workflow:
    """The example custom pipeline (examples/enterprise.json), as version 1."""
    await apply_pipeline(
        pool, workflows, name=ENTERPRISE, body=ENTERPRISE_DOCUMENT, if_match=None, created_by="test"
    )
    return await workflows.current(ENTERPRISE)


def without_statuses(
    document: Mapping[str, Any], removed: Mapping[str, str], added: Mapping[str, str] = {}
) -> dict[str, Any]:
    """`document` with the statuses `removed` (each -> where its leads go, also taking its place in
    every move towards it) and, for each `added` key, a new open status after the one it names
    (reached from there, leading where that one led)."""
    doc = copy.deepcopy(dict(document))
    statuses = [s for s in doc["statuses"] if s["key"] not in removed]
    for new, after in added.items():
        index = next(i for i, s in enumerate(statuses) if s["key"] == after)
        # Late stages, forecast as best case (and weighted at their historical rate).
        statuses.insert(
            index + 1,
            {
                "key": new,
                "label": new.title(),
                "outcome": "open",
                "forecast_category": "best_case",
            },
        )
    doc["statuses"] = statuses
    moves: dict[str, list[str]] = {}
    for origin, targets in doc["transitions"].items():
        if origin in removed:
            continue
        kept = []
        for target in targets:
            target = removed.get(target, target)
            if target != origin and target not in kept:
                kept.append(target)
        moves[origin] = kept
    for new, after in added.items():
        moves[new] = [t for t in moves[after] if t != new]
        moves[after] = [*moves[after], new]
    doc["transitions"] = moves
    doc["reopen_targets"] = [t for t in doc["reopen_targets"] if t not in removed]
    doc["reasons"] = {t: r for t, r in doc["reasons"].items() if t not in removed}
    for new in added:
        doc["reasons"][new] = {"codes": [{"code": f"{new}_started", "label": "Started"}]}
    build_workflow(doc, pipeline="check", version=1)  # a valid definition, or fail here
    return doc


ENTERPRISE_REMAP = {"proof_of_concept": "discovery", "lost_to_competitor": "closed_lost"}
"""Version 2 of the enterprise pipeline drops these statuses (an open one, a lost one) and moves
their leads; it adds two open stages after `proposal`, so later moves land on other positions."""
ENTERPRISE_ADDED = {"security_review": "proposal", "legal_review": "security_review"}


async def edit_enterprise_with_remap(pool: asyncpg.Pool, workflows: Workflows) -> Mapping[str, int]:
    """Apply enterprise version 2 (see `ENTERPRISE_REMAP`); how many leads each remap moved."""
    document = without_statuses(ENTERPRISE_DOCUMENT, ENTERPRISE_REMAP, ENTERPRISE_ADDED)
    applied = await apply_pipeline(
        pool,
        workflows,
        name=ENTERPRISE,
        body={**document, "remap": ENTERPRISE_REMAP},
        if_match=None,
        created_by="test",
    )
    assert applied.new_version
    return applied.remapped


async def write_history(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    leads: int,
    seed: int,
    now: datetime,
    pipeline: str = DEFAULT_PIPELINE,
    days: float = 200,
) -> None:
    """`leads` leads of `pipeline` created over the `days` days before `now`, each walked from
    its creation up to `now` at most."""
    rng = random.Random(f"{seed}/{pipeline}")
    # Values are drawn apart, so the rest of the history is the one drawn before they existed.
    values = random.Random(f"{seed}/{pipeline}/values")
    workflow = await workflows.current(pipeline)
    # One transaction: a commit per statement would spend most of the time waiting for the disk.
    async with pool.acquire() as conn, conn.transaction():
        repo = LeadRepository(conn)
        for n in range(leads):
            created = now - timedelta(days=rng.uniform(0, days))
            fields: dict[str, Any] = {
                "email": f"m{seed}.{n}@{pipeline}.example.com",
                "owner": rng.choice(OWNERS),
                "source": rng.choice(SOURCES),
                "segment": rng.choice(SEGMENTS),
                "attributes": {},
                **money(values, now),
            }
            row = await repo.insert(fields, workflow)
            assert row is not None
            await conn.execute("UPDATE leads SET created_at = $2 WHERE id = $1", row["id"], created)
            lead, at = to_domain(row), created
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
                if values.random() < 0.25:
                    # The rep revises the deal's value (or its currency) as it goes.
                    await repo.update_fields(row["id"], money(values, now), expected_version=None)
                    lead = replace(lead, version=lead.version + 1)
                change = next_change(rng, workflow, lead, at)
                if change is None:
                    break
                assert await repo.record_change(row["id"], lead, change) is not None
                lead = lead.apply(change)
            if values.random() < 0.3:
                # Edited after its last change (often a closed deal): past revenue stays put.
                await repo.update_fields(row["id"], money(values, now), expected_version=None)


async def stage_lists(pool: asyncpg.Pool) -> dict[tuple[str, int], list[str]]:
    """Every stored pipeline version's open statuses in definition order, read by the domain from
    the definition documents (not from the tables the SQL derives stages from)."""
    rows = await pool.fetch("SELECT pipeline, version, definition FROM pipeline_versions")
    return {
        (r["pipeline"], r["version"]): list(
            build_workflow(
                r["definition"], pipeline=r["pipeline"], version=r["version"]
            ).open_statuses
        )
        for r in rows
    }


async def status_properties(
    pool: asyncpg.Pool,
) -> dict[tuple[str, int], dict[str, tuple[float | None, str | None, int | None]]]:
    """Every stored pipeline version's statuses with their probability, forecast category and
    staleness, read by the domain from the definition documents."""
    rows = await pool.fetch("SELECT pipeline, version, definition FROM pipeline_versions")
    found = {}
    for r in rows:
        workflow = build_workflow(r["definition"], pipeline=r["pipeline"], version=r["version"])
        found[(r["pipeline"], r["version"])] = {
            s.key: (
                s.probability,
                s.forecast_category.value if s.forecast_category else None,
                s.stale_after_days,
            )
            for s in workflow.statuses
        }
    return found
