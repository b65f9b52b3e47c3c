"""Pipeline hygiene: the deals rotting where they stand, and how fast new leads hear from a rep.

A lead is **stale** when it has sat in an open status (since `status_since`) longer than that
status's `stale_after_days` in its pipeline's current version. The **first-contact time** is a
lead's stay in its pipeline's initial status: from its creation to the move that ends it (the
first status change, as long as no move returns leads to the initial status), in whole days like
every duration, for the stays that ended in the window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from app.metrics.domain import MetricsScope
from app.metrics.repository import open_statuses
from app.metrics.rollups import PipelineRepository
from app.metrics.service import reader_for, reading, stages_of


def _stays(rows: Sequence[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    items = [
        {
            key: r["value"],
            "contacted": r["stays"],
            "median_days": r["median_days"],
            "p90_days": r["p90_days"],
        }
        for r in rows
    ]
    return sorted(items, key=lambda i: (-i["contacted"], i[key] or ""))


async def hygiene(pool: asyncpg.Pool, scope: MetricsScope, *, now: datetime) -> dict[str, Any]:
    """Stale open deals now per status and owner; first-contact times in the window overall,
    per owner and per source; the leads still waiting for their first contact."""
    async with reading(pool) as conn:
        stages = await stages_of(conn, scope)
        statuses = await open_statuses(conn, stages.pipeline)
        scoped = replace(scope, pipeline=stages.pipeline)
        keys = [s.key for s in statuses]
        standing = PipelineRepository(conn)
        stale_rows = await standing.stale(scoped, now, pipeline=stages.pipeline)
        open_rows = await standing.open_by_owner(scoped, pipeline=stages.pipeline, statuses=keys)
        initial = keys[0]
        reader = reader_for(conn, scoped)
        overall = await reader.time_in_status(scoped, [initial])
        by_owner = await reader.stays_by(scoped, initial, "owner")
        by_source = await reader.stays_by(scoped, initial, "source")
    open_by: Counter[tuple[str, str | None]] = Counter()
    stale_by: Counter[tuple[str, str | None]] = Counter()
    for r in open_rows:
        open_by[(r["status"], r["owner"])] += r["open"]
    for r in stale_rows:
        stale_by[(r["status"], r["owner"])] += r["stale"]
    owners = sorted({owner for _, owner in open_by}, key=lambda o: o or "")
    by_owner_stale = [
        {
            "owner": owner,
            "open": sum(n for (_, o), n in open_by.items() if o == owner),
            "stale": sum(n for (_, o), n in stale_by.items() if o == owner),
        }
        for owner in owners
    ]
    first = overall[0] if overall else None
    return {
        "pipeline": stages.pipeline,
        "version": stages.version,
        "stale": {
            "open": sum(open_by.values()),
            "stale": sum(stale_by.values()),
            "by_status": [
                {
                    "status": s.key,
                    "stale_after_days": s.stale_after_days,
                    "open": sum(n for (k, _), n in open_by.items() if k == s.key),
                    "stale": sum(n for (k, _), n in stale_by.items() if k == s.key),
                }
                for s in statuses
            ],
            "by_owner": sorted(by_owner_stale, key=lambda i: (-i["stale"], i["owner"] or "")),
        },
        "first_contact": {
            "status": initial,
            "waiting": sum(n for (k, _), n in open_by.items() if k == initial),
            "contacted": first["stays"] if first else 0,
            "median_days": first["median_days"] if first else None,
            "p90_days": first["p90_days"] if first else None,
            "by_owner": _stays(by_owner, "owner"),
            "by_source": _stays(by_source, "source"),
        },
    }
