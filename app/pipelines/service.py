"""The pipeline use cases: read definitions and versions, check a proposed one, apply it.

Applying a version is one transaction under the pipeline's edit lock: status changes in flight on
that pipeline finish first and new ones wait (they take the same lock shared, in their write's
guard), the proposal is checked against every earlier version and against the leads it would
strand, the version is stored with what it changed and who made it, and leads in removed statuses
move to their remap target as recorded changes (reason `pipeline_remap`, actor `system`).
Committed, it is what every later decision is taken under.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from app.pipelines.cache import Workflows
from app.pipelines.definition import (
    VersionPlan,
    build_workflow,
    document_of,
    plan_version,
    split_remap,
)
from app.pipelines.repository import PipelineDefinitionRepository, PipelineRecord
from app.pipelines.workflow import Workflow
from app.platform.errors import (
    InvalidPipeline,
    PipelineNotFound,
    StalePipelineVersion,
    StatusesInUse,
    Violation,
)


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply_pipeline` did: the version now current, and whether it is new."""

    record: PipelineRecord
    created_pipeline: bool
    new_version: bool
    remapped: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Review:
    """A dry run: the violations, or what applying would do."""

    valid: bool
    version: int | None
    violations: tuple[Violation, ...] = ()
    changes: tuple[str, ...] = ()
    remap: Mapping[str, str] = field(default_factory=dict)
    leads_to_remap: Mapping[str, int] = field(default_factory=dict)
    stranded: Mapping[str, int] = field(default_factory=dict)
    """Removed statuses holding leads with no remap: applying would be refused (409)."""


async def list_pipelines(pool: asyncpg.Pool) -> list[PipelineRecord]:
    async with pool.acquire() as conn:
        return await PipelineDefinitionRepository(conn).all_current()


async def get_pipeline(
    pool: asyncpg.Pool, *, name: str, version: int | None = None
) -> PipelineRecord:
    async with pool.acquire() as conn:
        repo = PipelineDefinitionRepository(conn)
        row = await (repo.current(name) if version is None else repo.version(name, version))
    if row is None:
        raise PipelineNotFound(name, version)
    return row


async def pipeline_versions(pool: asyncpg.Pool, *, name: str) -> list[PipelineRecord]:
    async with pool.acquire() as conn:
        rows = await PipelineDefinitionRepository(conn).versions(name)
    if not rows:
        raise PipelineNotFound(name)
    return rows


async def _plan(
    repo: PipelineDefinitionRepository, name: str, body: object
) -> tuple[VersionPlan, Workflow | None]:
    document, remap = split_remap(body)
    earlier = [
        build_workflow(row["definition"], pipeline=name, version=row["version"])
        for row in await repo.definitions(name)
    ]
    current = earlier[-1] if earlier else None
    proposed = build_workflow(document, pipeline=name, version=len(earlier) + 1)
    removed = [k for k in current.keys if not proposed.has(k)] if current else []
    counts = await repo.leads_per_status(name, removed) if removed else {}
    plan = plan_version(
        proposed, current=current, earlier=earlier[:-1], remap=remap, leads_per_status=counts
    )
    return plan, current


async def review_pipeline(pool: asyncpg.Pool, *, name: str, body: object) -> Review:
    """What `apply_pipeline` would do with `body`, changing nothing."""
    async with pool.acquire() as conn:
        repo = PipelineDefinitionRepository(conn)
        try:
            plan, _ = await _plan(repo, name, body)
        except InvalidPipeline as invalid:
            return Review(valid=False, version=None, violations=invalid.violations)
        except StatusesInUse as in_use:
            return Review(
                valid=False,
                version=None,
                stranded=dict(in_use.facts["leads_per_status"]),
            )
    return Review(
        valid=True,
        version=plan.workflow.version,
        changes=plan.changed,
        remap=plan.remap,
        leads_to_remap=plan.leads_to_remap,
    )


async def apply_pipeline(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    name: str,
    body: object,
    if_match: int | None,
    created_by: str | None,
) -> Applied:
    """Store `body` as the pipeline's next version (the first, for a new pipeline); the same
    definition as the current one changes nothing."""
    now = datetime.now(UTC)
    # An invalid definition is refused as such before any precondition is looked at: a client
    # fixes its body first, whatever version it thought current.
    document, _ = split_remap(body)
    build_workflow(document, pipeline=name, version=1)
    async with pool.acquire() as conn, conn.transaction():
        repo = PipelineDefinitionRepository(conn)
        await repo.lock_for_edit()
        current_version = await repo.current_version(name)
        if if_match is not None and current_version != if_match:
            if current_version is None:
                raise PipelineNotFound(name)
            raise StalePipelineVersion(name, if_match, current_version)
        plan, current = await _plan(repo, name, body)
        if (
            current is not None
            and not plan.remap
            and document_of(current) == document_of(plan.workflow)
        ):
            unchanged = await repo.current(name)
            assert unchanged is not None
            return Applied(unchanged, created_pipeline=False, new_version=False)
        workflow = plan.workflow
        await repo.store(
            name,
            workflow.version,
            document_of(workflow),
            created_by=created_by,
            changes=plan.changed,
            remap=plan.remap,
        )
        moved: dict[str, int] = {}
        closed_from = {k: plan.remap.get(k) for k in plan.removed}
        for old, new in plan.remap.items():
            moved[old] = await repo.remap(
                name,
                old,
                new,
                version=workflow.version,
                closed_from=closed_from,
                at=now,
                api_key=created_by,
            )
        record = await repo.current(name)
        assert record is not None
    workflows.remember(name, workflow.version, record["definition"])
    workflows.saw(name, workflow.version)
    return Applied(record, created_pipeline=current is None, new_version=True, remapped=moved)


def version_public(row: PipelineRecord) -> dict[str, Any]:
    """A version as the API and the CLI show it."""
    return {
        "name": row["pipeline"],
        "version": row["version"],
        "current_version": row["current_version"],
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "changes": list(row["changes"]),
        "remap": dict(row["remap"]),
    }
