"""One error hierarchy, mapped in one table: every refusal class has its problem type (or is
one only the `leadstatus` command raises), and every problem type it maps to is documented."""

from __future__ import annotations

import inspect

from app.platform import errors
from app.platform.http.problem_types import (
    CATALOGUE,
    COMMAND_ONLY,
    PROBLEMS,
    problem_type_for,
    problem_type_of,
)


def _refusals() -> set[type[errors.ServiceError]]:
    return {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ServiceError) and cls is not errors.ServiceError
    }


def test_every_refusal_has_a_problem_type_or_is_the_commands_own() -> None:
    unmapped = {
        cls.__name__
        for cls in _refusals()
        if cls not in COMMAND_ONLY and problem_type_for(cls) is None
    }
    assert unmapped == set()
    assert not set(PROBLEMS) & COMMAND_ONLY


def test_no_refusal_is_defined_outside_the_hierarchy_module() -> None:
    """Other modules raise these classes; none declares one of its own."""
    assert all(cls.__module__ == "app.platform.errors" for cls in _refusals())
    assert len(_refusals()) >= 30


def test_each_mapped_type_is_documented_under_problems() -> None:
    for kind in PROBLEMS.values():
        assert CATALOGUE[kind.type] is kind


def test_a_payload_refusal_takes_the_type_of_its_own_kind() -> None:
    """The nearest class in the table wins: a malformed body is not answered as invalid."""
    assert problem_type_of(errors.MalformedBody("x")) is PROBLEMS[errors.MalformedBody]
    assert (
        problem_type_of(errors.InvalidPayload("x", field="email"))
        is PROBLEMS[errors.InvalidPayload]
    )
    assert errors.InvalidPayload("x", field="email").status == 422
    assert errors.UnsupportedMediaType("x").status == 415
