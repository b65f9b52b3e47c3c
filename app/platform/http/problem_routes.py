"""Each problem `type` the API answers with resolves to a short description of it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.platform.http.problem_types import CATALOGUE, NOT_FOUND, PROBLEM_URI, responses
from app.platform.http.problems import problem

router = APIRouter(tags=["problems"])


class ProblemTypePublic(BaseModel):
    type: str
    """As an error body's `type` says it: `/problems/<name>`."""
    status: int
    title: str
    about: str


@router.get(
    "/problems/{problem_type}",
    response_model=ProblemTypePublic,
    summary="Describe a problem type",
    description="What a problem `type` in an error body means and when it is answered.",
    responses=responses(NOT_FOUND),
)
async def describe_problem(problem_type: str) -> ProblemTypePublic:
    kind = CATALOGUE.get(problem_type)
    if kind is None:
        raise problem(NOT_FOUND, f"No problem type is called {problem_type[:64]!r}.")
    return ProblemTypePublic(
        type=PROBLEM_URI.format(type=kind.type),
        status=kind.status,
        title=kind.title,
        about=kind.about,
    )
