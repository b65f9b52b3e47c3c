"""The domain stays pure: no web framework, no database driver, no other layer of the app.

The rules must be testable (and reusable) without I/O, so each feature's domain modules may
import only the standard library and one another. Checked twice: statically over the source,
and by importing the domain in a fresh interpreter and looking at what got loaded
(`make lint` checks the same with import-linter's contracts).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MODULES = (
    "app.platform.errors",
    "app.pipelines.workflow",
    "app.pipelines.definition",
    "app.pipelines.default",
    "app.leads.domain",
    "app.metrics.histogram",
    "app.metrics.domain",
    "app.intake.domain",
    "app.events.domain",
    "app.events.envelope",
    "app.webhooks.domain",
    "app.publishing.domain",
    "app.access.domain",
    "app.access.rate_limit",
)
"""Every pure module, wherever its feature keeps it."""
FORBIDDEN = frozenset(
    {"fastapi", "starlette", "sqlalchemy", "sqlmodel", "asyncpg", "pydantic", "httpx", "nats"}
)
DOMAIN_FILES = [ROOT / (name.replace(".", "/") + ".py") for name in DOMAIN_MODULES]
PACKAGES = frozenset(name.rpartition(".")[0] for name in DOMAIN_MODULES) | {"app"}
"""Bare package names: importing one runs only its docstring."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _dynamic_import(node: ast.AST) -> str | None:
    """The module named by `importlib.import_module("x")` or `__import__("x")`, if constant."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = node.args[0]
    if called in {"import_module", "__import__"} and isinstance(first, ast.Constant):
        return str(first.value)
    return None


def _imported_modules(source: str, module: str, *, is_package: bool) -> set[str]:
    """Absolute names of every module `source` imports, relative imports resolved.

    For `from x import y` both `x` and `x.y` are listed, since `y` may be a submodule.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (dynamic := _dynamic_import(node)) is not None:
            found.add(dynamic)
    return found


def _is_impure(name: str) -> bool:
    """A forbidden package, or an `app` module that is not a domain module (a bare package
    name is harmless; `x.y` of `from x import y` may be a name in domain module `x`)."""
    if name.split(".")[0] in FORBIDDEN:
        return True
    in_app = name.startswith("app.")
    pure = name in DOMAIN_MODULES or name in PACKAGES or name.rpartition(".")[0] in DOMAIN_MODULES
    return in_app and not pure


def _violations(imported: set[str]) -> set[str]:
    return {name for name in imported if _is_impure(name)}


def test_the_domain_has_source_files() -> None:
    """Guard against the scan below passing vacuously on a moved module."""
    missing = [str(p.relative_to(ROOT)) for p in DOMAIN_FILES if not p.is_file()]
    assert missing == []
    assert len(DOMAIN_FILES) == 14


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_module_imports_nothing_impure(path: Path) -> None:
    """No framework, driver or validation library, and no `app.` module but the domain's."""
    module = _module_name(path)
    imported = _imported_modules(
        path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
    )
    assert _violations(imported) == set()


@pytest.mark.parametrize(
    ("source", "culprit"),
    [
        ("import fastapi", "fastapi"),
        ("from sqlalchemy.orm import Session", "sqlalchemy.orm"),
        ("import pydantic.fields as f", "pydantic.fields"),
        ("from app.platform.db import create_pool", "app.platform.db"),
        ("from app.leads import service", "app.leads.service"),
        ("from .repository import LeadRepository", "app.leads.repository"),
        ("from ..platform import settings", "app.platform.settings"),
        ("import importlib\nimportlib.import_module('asyncpg')", "asyncpg"),
    ],
)
def test_the_scan_catches_impure_imports(source: str, culprit: str) -> None:
    """The checker itself: each of these, written in app/leads/domain.py, would be caught."""
    imported = _imported_modules(source, "app.leads.domain", is_package=False)
    assert culprit in _violations(imported)


def test_the_scan_allows_the_domain_and_the_standard_library() -> None:
    """Imports the domain really uses are not flagged, so the check is not simply over-eager."""
    source = (
        "from __future__ import annotations\nimport dataclasses\nfrom enum import StrEnum\n"
        "from app.pipelines.workflow import Workflow\nfrom ..platform.errors import ServiceError\n"
        "from app.pipelines import definition"
    )
    imported = _imported_modules(source, "app.leads.domain", is_package=False)
    assert {"app.platform.errors", "app.pipelines.workflow", "app.pipelines.definition"} <= imported
    assert _violations(imported) == set()


def test_importing_the_domain_loads_no_framework_or_driver() -> None:
    """A fresh interpreter that imports the domain has none of those packages in sys.modules."""
    roots = ", ".join(repr(name) for name in sorted(FORBIDDEN))
    code = (
        f"import {', '.join(DOMAIN_MODULES)}, sys; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {{{roots}}})); "
        "print(sorted(m for m in sys.modules if m.startswith('app.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    forbidden_loaded, app_loaded = result.stdout.splitlines()
    assert forbidden_loaded == "[]"
    loaded = {m.strip("'") for m in app_loaded.strip("[]").split(", ")}
    assert set(DOMAIN_MODULES) <= loaded
    assert loaded <= set(DOMAIN_MODULES) | PACKAGES
