"""Managing intake sources (the `leadstatus source` commands) and replaying their deliveries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from app.intake import payloads
from app.intake.domain import SourceKind
from app.intake.repository import DeliveryRepository, SourceRecord, SourceRepository
from app.intake.secrets import SecretKeeper, new_secret
from app.intake.service import ROTATION_GRACE, IntakeSource, replay_one
from app.intake.signatures import standard_secret_is_valid
from app.pipelines.cache import Workflows
from app.platform.errors import (
    BadSecret,
    IntakeSourceExists,
    IntakeSourceNotFound,
    PayloadRefused,
    PipelineNotFound,
)


def _checked_secret(kind: SourceKind, secret: str | None) -> str:
    if secret is None:
        return new_secret(kind)
    if kind is SourceKind.STANDARD and not standard_secret_is_valid(secret):
        raise BadSecret("A Standard Webhooks secret is whsec_ followed by base64 (16+ bytes).")
    if len(secret) < 16:
        raise BadSecret("A secret needs at least 16 characters.")
    return secret


async def add_source(
    pool: asyncpg.Pool, keeper: SecretKeeper, source: Mapping[str, Any], secret: str | None
) -> tuple[SourceRecord, str]:
    """The new source and its secret in plain text (shown once, then only stored sealed)."""
    kind = SourceKind(source["kind"])
    plain = _checked_secret(kind, secret)
    stored = {**source, "secret": keeper.stored_form(kind, plain)}
    async with pool.acquire() as conn:
        try:
            row = await SourceRepository(conn).add(stored)
        except asyncpg.UniqueViolationError:
            raise IntakeSourceExists(source["name"]) from None
        except asyncpg.ForeignKeyViolationError:
            raise PipelineNotFound(source["pipeline"]) from None
    return row, plain


async def list_sources(pool: asyncpg.Pool) -> list[SourceRecord]:
    async with pool.acquire() as conn:
        return await SourceRepository(conn).all()


async def rotate_secret(
    pool: asyncpg.Pool, keeper: SecretKeeper, name: str, secret: str | None, *, now: datetime
) -> str:
    """A new secret; the previous one keeps verifying for ROTATION_GRACE."""
    async with pool.acquire() as conn:
        repo = SourceRepository(conn)
        row = await repo.get(name)
        if row is None:
            raise IntakeSourceNotFound(name)
        kind = SourceKind(row["kind"])
        plain = _checked_secret(kind, secret)
        await repo.rotate(
            name, keeper.stored_form(kind, plain), previous_until=now + ROTATION_GRACE
        )
    return plain


async def update_source(pool: asyncpg.Pool, name: str, changes: Mapping[str, Any]) -> None:
    async with pool.acquire() as conn:
        try:
            updated = await SourceRepository(conn).update(name, changes)
        except asyncpg.ForeignKeyViolationError:
            raise PipelineNotFound(changes["pipeline"]) from None
        if not updated:
            raise IntakeSourceNotFound(name)


async def remove_source(pool: asyncpg.Pool, name: str) -> None:
    async with pool.acquire() as conn:
        if not await SourceRepository(conn).remove(name):
            raise IntakeSourceNotFound(name)


async def replay(
    pool: asyncpg.Pool,
    source: IntakeSource,
    *,
    since: datetime,
    validate: Callable[[dict[str, Any]], dict[str, Any]],
    now: datetime,
    progress: Callable[[int, int], None],
) -> Counter[str]:
    """Read the source's stored deliveries again with its current mapping.

    A delivery that found no lead then (a thin event, an ignored one) is processed as if it
    arrived now; one that did has its lead's empty fields filled from the payload. `validate`
    turns payload fields into lead fields (raising ValueError when they are not valid).
    """
    async with pool.acquire() as conn:
        stored = await DeliveryRepository(conn).since(source.name, since)
    tally: Counter[str] = Counter()
    workflows = Workflows(pool)
    for done, delivery in enumerate(stored, start=1):
        try:
            arrivals = payloads.read(
                source.kind,
                delivery["body"],
                content_type=delivery["content_type"],
                field_map=source.field_map,
                message_id=delivery["event_id"],
            )
        except PayloadRefused:
            tally["unreadable"] += 1
            continue
        for arrival in arrivals:
            if arrival.outcome is not None:
                tally[f"still {arrival.outcome.value}"] += 1
                continue
            try:
                fields = validate(arrival.fields)
            except ValueError:
                tally["invalid"] += 1
                continue
            outcome = await replay_one(
                pool, workflows, source, delivery["id"], arrival, fields, now=now
            )
            tally[outcome] += 1
        progress(done, len(stored))
    return tally
