"""A randomized workload through the use cases keeps the rollups exact.

Random but reproducible creations, transitions, reopenings and edits, each drawn from the
pipeline's current workflow, run on the default pipeline and on a custom one
(examples/enterprise.json), whose edit into a second version remaps the leads of the statuses it
removes. Part-way and at the end the trigger-maintained rollups must equal `metrics_rebuild()`'s
recomputation and the totals counted from the history; the workload is also checked to have
covered what it claims to (every move, every reopen target, reasons needing extra fields).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.leads import service
from app.leads.domain import ChangeDetails
from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.workflow import (
    REMAP_REASON,
    ExtraField,
    Outcome,
    ReasonRule,
    TargetRule,
    Workflow,
)
from tests.metrics.metrics_history import (
    ENTERPRISE,
    ENTERPRISE_REMAP,
    define_enterprise,
    edit_enterprise_with_remap,
)
from tests.metrics.rollups_support import (
    DIMS,
    Snapshot,
    assert_rollups_exact,
    assert_totals_match_history,
    move,
    total,
)

OWNERS = ["alex", "sam", "kim", None]
SOURCES = ["web", "referral", "event", None]
SEGMENTS = ["smb", "enterprise", None]
COMPETITORS = ["Globex", "Initech", "Umbrella"]


def _details(
    rng: random.Random, rule: TargetRule, reason: ReasonRule, now: datetime
) -> ChangeDetails:
    """What a change with `reason` must carry, plus now and then what it may carry."""
    wanted = set(reason.requires) | {f for f in rule.optional if rng.random() < 0.4}
    return ChangeDetails(
        note="see call notes" if ExtraField.NOTE in wanted or rng.random() < 0.2 else None,
        competitor=rng.choice(COMPETITORS) if ExtraField.COMPETITOR in wanted else None,
        revisit_at=now + timedelta(days=rng.randint(2, 240), hours=rng.randint(0, 23))
        if ExtraField.REVISIT_AT in wanted
        else None,
        future_opportunity=rng.choice([True, False])
        if ExtraField.FUTURE_OPPORTUNITY in wanted
        else None,
        actor=rng.choice(OWNERS),
    )


def _least_used(rng: random.Random, options: Sequence[Any], used: Counter[Any]) -> Any:
    """Mostly the option used least so far (so every kind comes up), sometimes any option."""
    if rng.random() < 0.3:
        return rng.choice(options)
    fewest = min(used[o] for o in options)
    return rng.choice([o for o in options if used[o] == fewest])


@dataclass
class Workload:
    """Random but reproducible use-case calls on one pipeline, remembering what each lead has
    been through; every choice is drawn from the pipeline's current workflow."""

    pool: asyncpg.Pool
    workflows: Workflows
    rng: random.Random
    pipeline: str = DEFAULT_PIPELINE
    status: dict[int, str] = field(default_factory=dict)
    reopened: set[int] = field(default_factory=set)
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    reopen_targets: Counter[str | None] = field(default_factory=Counter)
    patched: Counter[str] = field(default_factory=Counter)
    won_after_reopen: int = 0

    async def workflow(self) -> Workflow:
        return await self.workflows.current(self.pipeline)

    async def create(self) -> None:
        n = len(self.status)
        row = await service.create_lead(
            self.pool,
            self.workflows,
            pipeline=self.pipeline,
            fields={
                "email": f"w{n}@{self.pipeline}.example.com",
                "owner": self.rng.choice(OWNERS),
                "source": self.rng.choice(SOURCES),
                "segment": self.rng.choice(SEGMENTS),
                "attributes": {},
            },
        )
        self.status[row["id"]] = row["status"]

    async def transition(self, lead_id: int) -> None:
        workflow = await self.workflow()
        current = self.status[lead_id]
        targets = sorted(workflow.allowed_targets(current))
        to: str = _least_used(self.rng, [(current, t) for t in targets], self.moves)[1]
        won = [t for t in targets if workflow.outcome(t) is Outcome.WON]
        if lead_id in self.reopened and won and self.rng.random() < 0.5:
            to = self.rng.choice(won)
        rule = workflow.reasons[to]
        code = _least_used(self.rng, [(to, r.code) for r in rule.reasons], self.reasons)[1]
        reason = rule.reason(code)
        assert reason is not None
        details = _details(self.rng, rule, reason, datetime.now(UTC))
        row = await service.transition_lead(
            self.pool, self.workflows, lead_id=lead_id, to=to, reason=code, details=details
        )
        assert row["status"] == to
        self.moves[current, to] += 1
        self.reasons[to, code] += 1
        self.won_after_reopen += workflow.outcome(to) is Outcome.WON and lead_id in self.reopened
        self.status[lead_id] = to

    async def reopen(self, lead_id: int) -> None:
        workflow = await self.workflow()
        rule = workflow.reopen
        assert rule is not None
        to = _least_used(
            self.rng, [None, *sorted(workflow.open_reopen_targets)], self.reopen_targets
        )
        code = _least_used(self.rng, [("reopen", r.code) for r in rule.reasons], self.reasons)[1]
        reason = rule.reason(code)
        assert reason is not None
        details = _details(self.rng, rule, reason, datetime.now(UTC))
        row = await service.reopen_lead(
            self.pool, self.workflows, lead_id=lead_id, reason=code, to=to, details=details
        )
        assert row["reopen_count"] >= 1 and row["outcome"] == "open"
        self.reopen_targets[to] += 1
        self.reasons["reopen", code] += 1
        self.reopened.add(lead_id)
        self.status[lead_id] = row["status"]

    async def patch(self, lead_id: int) -> None:
        names = self.rng.sample(DIMS, self.rng.randint(1, 3))
        values = {"owner": OWNERS, "source": SOURCES, "segment": SEGMENTS}
        changes = {n: self.rng.choice(values[n]) for n in names}
        before = await self.pool.fetchrow("SELECT * FROM leads WHERE id = $1", lead_id)
        row = await service.update_lead(self.pool, lead_id=lead_id, changes=changes, if_match=None)
        assert all(row[n] == v for n, v in changes.items())
        if any(before[n] != v for n, v in changes.items()):
            self.patched["open" if before["outcome"] == "open" else "closed"] += 1

    async def step(self) -> None:
        workflow = await self.workflow()
        open_ = [i for i, s in self.status.items() if workflow.allowed_targets(s)]
        closed = [i for i, s in self.status.items() if workflow.reopenable(s)]
        roll = self.rng.random()
        if len(self.status) < 8 or roll < 0.2:
            await self.create()
        elif roll < 0.62 and open_:
            await self.transition(self.rng.choice(open_))
        elif roll < 0.8 and closed:
            await self.reopen(self.rng.choice(closed))
        else:
            await self.patch(self.rng.choice(sorted(self.status)))

    async def reread(self) -> None:
        """Where the leads stand after a pipeline edit moved some of them."""
        rows = await self.pool.fetch(
            "SELECT id, status FROM leads WHERE id = ANY($1::bigint[])", list(self.status)
        )
        self.status = {r["id"]: r["status"] for r in rows}


async def _run(work: Workload, steps: int) -> Snapshot:
    for n in range(1, steps + 1):
        await work.step()
        if n % 65 == 0:  # also part-way: errors that later cancel out still show
            await assert_rollups_exact(work.pool)
    snap = await assert_rollups_exact(work.pool)
    await assert_totals_match_history(work.pool, snap)
    return snap


@pytest.mark.parametrize("pipeline", [DEFAULT_PIPELINE, ENTERPRISE])
async def test_random_workload_through_the_use_cases_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows, pipeline: str
) -> None:
    if pipeline != DEFAULT_PIPELINE:
        await define_enterprise(pool, workflows)
    # The seed is chosen so that the workload covers what the assertions below claim.
    work = Workload(pool, workflows, random.Random(f"1/{pipeline}"), pipeline)
    workflow = await work.workflow()
    snap = await _run(work, 260)

    # The workload really covered what it claims to.
    every_move = {(s, t) for s in workflow.keys for t in workflow.allowed_targets(s)}
    assert every_move <= set(work.moves), sorted(every_move - set(work.moves))
    assert set(work.reopen_targets) == {None, *workflow.open_reopen_targets}
    assert work.won_after_reopen > 0
    assert work.patched["open"] > 0 and work.patched["closed"] > 0
    # Reasons that need a competitor or a note came up, a reopening's too.
    assert workflow.reopen is not None
    rules = {**workflow.reasons, "reopen": workflow.reopen}
    used = {f for t, code in work.reasons for f in getattr(rules[t].reason(code), "requires", ())}
    assert {ExtraField.COMPETITOR, ExtraField.NOTE} <= used, used
    reopen_codes = {code for t, code in work.reasons if t == "reopen"}
    assert reopen_codes == set(workflow.reopen.codes)
    assert len(work.status) >= 40
    dims = await pool.fetchrow(
        "SELECT bool_or(owner IS NULL) AS o, bool_or(source IS NULL) AS s,"
        " bool_or(segment IS NULL) AS g, count(DISTINCT owner) AS owners FROM leads"
    )
    assert dims["o"] and dims["s"] and dims["g"] and dims["owners"] >= 3
    months = {k[5] for k in snap["metrics_pipeline"] if k[5] is not None}
    assert len(months) >= 2, "closed leads should fall into several revisit months"


async def test_a_pipeline_edit_with_remaps_amid_a_random_workload_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Enterprise leads worked on version 1, then an edit removes an open and a lost status
    (their leads remapped) and adds two open stages; the work goes on under version 2, with
    leads of the default pipeline worked alongside."""
    await define_enterprise(pool, workflows)
    custom = Workload(pool, workflows, random.Random("remap/enterprise"), ENTERPRISE)
    default = Workload(pool, workflows, random.Random("remap/default"), DEFAULT_PIPELINE)
    for _ in range(150):
        await custom.step()
    for _ in range(40):
        await default.step()
    # Whatever the workload left there, a lead in each status the edit removes.
    for path in (
        [("discovery", "call_held"), ("proof_of_concept", "poc_agreed")],
        [("discovery", "call_held"), ("proposal", "proposal_sent")],
    ):
        await custom.create()
        lead_id = max(custom.status)
        await move(pool, workflows, lead_id, path)
        custom.status[lead_id] = path[-1][0]
    last = max(custom.status)
    await service.transition_lead(
        pool,
        workflows,
        lead_id=last,
        to="lost_to_competitor",
        reason="chose_competitor",
        details=ChangeDetails(competitor="Globex"),
    )
    custom.status[last] = "lost_to_competitor"
    held = Counter(custom.status.values())
    assert all(held[old] > 0 for old in ENTERPRISE_REMAP), held
    moved = await edit_enterprise_with_remap(pool, workflows)
    assert moved == {old: held[old] for old in ENTERPRISE_REMAP}
    await custom.reread()
    assert not set(custom.status.values()) & set(ENTERPRISE_REMAP)
    before = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, before)
    for _ in range(3):
        for _ in range(50):
            await custom.step()
        for _ in range(15):
            await default.step()
        await assert_rollups_exact(pool)
    # One deal through both new stages: stage 5 exists only in version 2.
    await custom.create()
    await move(
        pool,
        workflows,
        max(custom.status),
        [
            ("discovery", "call_held"),
            ("proposal", "proposal_sent"),
            ("security_review", "security_review_started"),
            ("legal_review", "legal_review_started"),
        ],
    )
    snap = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, snap)
    v2 = await pool.fetchval(
        "SELECT count(*) FROM lead_status_changes"
        " WHERE pipeline = $1 AND pipeline_version = 2 AND reason <> $2",
        ENTERPRISE,
        REMAP_REASON,
    )
    assert v2 > 50
    assert total(snap, "daily", "reached_5", pipeline=ENTERPRISE) > 0
