"""What every feature's table declarations share: one SQLModel metadata with the naming
convention the migrations use, and the helpers for domain types and time columns.

The tables themselves live with their features (`app/<feature>/tables.py`); `app.schema`
gathers them all for alembic and for the test that compares declarations with migrations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
)
from sqlalchemy.dialects.postgresql import DOMAIN
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def domain_type(name: str, base: Any, constraint: str, check: str) -> DOMAIN:
    """A domain the migrations create (with its check, by that name): a single-column rule as a
    type, which PostgreSQL keeps compiled per connection, where a table check is re-read from
    its stored text on every write."""
    return DOMAIN(name, base, constraint_name=constraint, check=check, create_type=False)


def timestamp(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, **kw))
