"""What a route reads of the pipelines from its request: the process's cache of versions."""

from __future__ import annotations

from fastapi import Request

from app.pipelines.cache import Workflows


def workflows_of(request: Request) -> Workflows:
    """The process's cache of pipeline versions, as the app keeps it."""
    workflows: Workflows = request.app.state.workflows
    return workflows
