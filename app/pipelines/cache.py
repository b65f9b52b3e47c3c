"""Each process's cache of pipeline versions: the definition is never read per request.

A version never changes once stored, so a cached `Workflow` is never stale; only which version
is *current* can move on. That is kept as a hint, learned from every status change's read (it
joins the pipeline's current version) and from every write refused by the version guard
(`decided_under_current()` in the statement): a decision taken under a version that has since
changed is not applied, and the use case re-decides under the new one. So several processes see
a new version at their next write, with no message between them.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from app.pipelines.definition import build_workflow
from app.pipelines.repository import PipelineDefinitionRepository
from app.pipelines.workflow import Workflow
from app.platform.errors import PipelineNotFound


class Workflows:
    def __init__(self, pool: asyncpg.Pool | Callable[[], asyncpg.Pool]) -> None:
        self._pool_of = pool if callable(pool) else (lambda: pool)
        self._versions: dict[tuple[str, int], Workflow] = {}
        self._current: dict[str, int] = {}

    def saw(self, name: str, version: int) -> None:
        """A read showed `version` as the current one of `name`."""
        if version > self._current.get(name, 0):
            self._current[name] = version

    async def version(
        self, name: str, version: int, *, conn: asyncpg.Connection | None = None
    ) -> Workflow:
        """The workflow of `version`: cached, or read on `conn` (a caller that holds a
        connection passes it, so a full pool never waits on itself) or a pooled one."""
        found = self._versions.get((name, version))
        if found is None:
            if conn is None:
                async with self._pool_of().acquire() as own:
                    row = await PipelineDefinitionRepository(own).version(name, version)
            else:
                row = await PipelineDefinitionRepository(conn).version(name, version)
            if row is None:
                raise PipelineNotFound(name, version)
            found = self.remember(row["pipeline"], row["version"], row["definition"])
            self.saw(name, row["current_version"])
        return found

    async def current(self, name: str, *, conn: asyncpg.Connection | None = None) -> Workflow:
        """The current version as this process last saw it (the writes' guard has the last say)."""
        version = self._current.get(name)
        if version is None:
            return await self.refresh(name, conn=conn)
        return await self.version(name, version, conn=conn)

    async def refresh(self, name: str, *, conn: asyncpg.Connection | None = None) -> Workflow:
        """The current version as the database has it now."""
        if conn is None:
            async with self._pool_of().acquire() as own:
                version = await PipelineDefinitionRepository(own).current_version(name)
        else:
            version = await PipelineDefinitionRepository(conn).current_version(name)
        if version is None:
            self._current.pop(name, None)
            raise PipelineNotFound(name)
        self._current[name] = version
        return await self.version(name, version, conn=conn)

    def forget(self) -> None:
        """Drop everything cached (a database whose pipelines were reset, as tests do)."""
        self._versions.clear()
        self._current.clear()

    def remember(self, name: str, version: int, definition: object) -> Workflow:
        """The workflow of a stored version whose definition the caller has read already."""
        found = self._versions.get((name, version))
        if found is None:
            # Stored versions were valid when stored, and validity never depends on the clock.
            found = build_workflow(definition, pipeline=name, version=version)
            self._versions[(name, version)] = found
        return found
