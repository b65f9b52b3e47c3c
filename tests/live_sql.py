"""Where each function, view, trigger, domain and type of the schema can be read: one file per
object under its feature (`app/<feature>/sql/`), holding what the migrations leave at head.

The migrations are the history; these files are the present. `test_live_sql.py` fails when a
migration changes an object without its file following, and when a file names an object the
migrations do not make. To refresh them after writing a migration, against a database migrated
to head:

    DATABASE_URL=postgresql://... .venv/bin/python -m tests.live_sql
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent

GENERATED = frozenset({"pipeline_has_status", "pipeline_has_move"})
"""Written at run time from the version rows (`pipeline_*_compile()`), not by a migration: the
generators' own files are their definition."""

HEADER = (
    "-- The live definition, as the migrations leave it at head. A change is a new migration;\n"
    "-- then `python -m tests.live_sql` against a migrated database rewrites this file.\n"
)

_FUNCTIONS = """
SELECT p.proname AS name, pg_get_functiondef(p.oid) AS body
  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1
"""
_VIEWS = """
SELECT c.relname AS name, pg_get_viewdef(c.oid, true) AS body
  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v' ORDER BY 1
"""
_TRIGGERS = """
SELECT p.proname AS function, t.tgrelid::regclass::text AS table_name, t.tgname AS name,
       pg_get_triggerdef(t.oid, true) AS body
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
 WHERE NOT t.tgisinternal ORDER BY 2, 3
"""
_DOMAINS = """
SELECT t.typname AS name, format_type(t.typbasetype, t.typtypmod) AS base,
       coalesce(string_agg(format('CONSTRAINT %I %s', c.conname, pg_get_constraintdef(c.oid)),
                           ' ' ORDER BY c.conname), '') AS checks
  FROM pg_type t LEFT JOIN pg_constraint c ON c.contypid = t.oid
 WHERE t.typnamespace = 'public'::regnamespace AND t.typtype = 'd'
 GROUP BY t.typname, t.typbasetype, t.typtypmod ORDER BY 1
"""
_TYPES = """
SELECT t.typname AS name,
       string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', '
                  ORDER BY a.attnum) AS columns
  FROM pg_type t
  JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE t.typnamespace = 'public'::regnamespace
 GROUP BY t.typname ORDER BY 1
"""
"""Composite types of their own (a table's row type is the table's, not listed)."""


def feature_of(name: str) -> str:
    """The feature an object belongs to, by the prefix its name starts with."""
    if name.startswith("metrics_"):
        return "metrics"
    if name.startswith("events_"):
        return "events"
    if name.startswith("pipeline"):
        return "pipelines"
    return "leads"


async def read_objects(url: str) -> dict[Path, str]:
    """Every object's file (relative to the project root) and the text it must hold."""
    conn = await asyncpg.connect(url)
    try:
        files: dict[Path, list[str]] = {}

        def add(feature: str, file: str, text: str) -> None:
            files.setdefault(Path("app", feature, "sql", file), []).append(text.strip() + "\n")

        for row in await conn.fetch(_FUNCTIONS):
            if row["name"] not in GENERATED:
                add(feature_of(row["name"]), f"{row['name']}.sql", row["body"] + ";")
        for row in await conn.fetch(_VIEWS):
            body = f"CREATE OR REPLACE VIEW {row['name']} AS\n{row['body']}"
            add(feature_of(row["name"]), f"{row['name']}.sql", body)
        for row in await conn.fetch(_TRIGGERS):
            add(feature_of(row["function"]), "triggers.sql", row["body"] + ";")
        for row in await conn.fetch(_DOMAINS):
            checks = f" {row['checks']}" if row["checks"] else ""
            add("leads", "domains.sql", f"CREATE DOMAIN {row['name']} AS {row['base']}{checks};")
        for row in await conn.fetch(_TYPES):
            add(
                feature_of(row["name"]),
                f"{row['name']}.sql",
                f"CREATE TYPE {row['name']} AS ({row['columns']});",
            )
        return {path: HEADER + "\n" + "\n".join(parts) for path, parts in files.items()}
    finally:
        await conn.close()


VIEW_PREFIX = "CREATE OR REPLACE VIEW "


async def same_views(url: str, files: dict[Path, str]) -> list[Path]:
    """The view files whose query is not the view's: the file's query and the view's are each
    made a temporary view and printed by the server (the printed text differs between major
    versions, so the files are compared as the server reads them, not character by character)."""
    conn = await asyncpg.connect(url)
    differ = []
    try:
        for path, text in files.items():
            body = text.split(VIEW_PREFIX, 1)[1]
            name, query = body.split(" AS\n", 1)
            async with conn.transaction():
                built = await conn.fetchval(f"SELECT pg_get_viewdef('public.{name}'::regclass)")
                # Both queries through the same parse and print: a printed view does not always
                # print the same again (a union's column aliases), twice it does.
                await conn.execute(f"CREATE TEMPORARY VIEW written_{name} AS {query}")
                await conn.execute(f"CREATE TEMPORARY VIEW built_{name} AS {built}")
                as_written, as_built = await conn.fetchrow(
                    f"SELECT pg_get_viewdef('written_{name}'::regclass, true),"
                    f" pg_get_viewdef('built_{name}'::regclass, true)"
                )
                await conn.execute(f"DROP VIEW written_{name}, built_{name}")
            if as_written != as_built:
                differ.append(path)
        return differ
    finally:
        await conn.close()


def is_view(text: str) -> bool:
    return VIEW_PREFIX in text


def written() -> dict[Path, str]:
    """The files as they are in the tree."""
    return {
        path.relative_to(ROOT): path.read_text(encoding="utf-8")
        for path in sorted(ROOT.glob("app/*/sql/*.sql"))
    }


def main() -> int:
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("set DATABASE_URL to a database migrated to head", file=sys.stderr)
        return 2
    wanted = asyncio.run(read_objects(url.replace("postgresql+asyncpg://", "postgresql://")))
    for stale in set(written()) - set(wanted):
        (ROOT / stale).unlink()
        print(f"removed {stale}")
    for path, text in sorted(wanted.items()):
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
