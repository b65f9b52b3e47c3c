"""Each function, view, trigger, domain and type has one live definition a reader can open,
under its feature (`app/<feature>/sql/`), and it is what the migrations build: see
`tests/live_sql.py`."""

from __future__ import annotations

import asyncio

from tests.live_sql import GENERATED, is_view, read_objects, same_views, written


def test_every_object_has_its_file_and_every_file_its_object(database_url: str) -> None:
    wanted = asyncio.run(read_objects(database_url))
    assert sorted(map(str, written())) == sorted(map(str, wanted))


def test_each_file_holds_what_the_migrations_build(database_url: str) -> None:
    wanted = asyncio.run(read_objects(database_url))
    files = written()
    stale = [
        str(path) for path, text in files.items() if not is_view(text) and wanted.get(path) != text
    ]
    assert stale == [], "run `python -m tests.live_sql` against a migrated database"


def test_each_view_file_holds_the_query_the_migrations_build(database_url: str) -> None:
    views = {path: text for path, text in written().items() if is_view(text)}
    assert len(views) == 9
    assert asyncio.run(same_views(database_url, views)) == []


def test_the_generated_checks_are_left_to_their_generators(database_url: str) -> None:
    """The two functions compiled from the version rows have no file; their generators do."""
    files = {path.name for path in written()}
    assert not {f"{name}.sql" for name in GENERATED} & files
    assert {"pipeline_statuses_compile.sql", "pipeline_reasons_compile.sql"} <= files
