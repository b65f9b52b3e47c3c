"""`leadstatus pipeline ...`: define the customer's workflows from files, see their versions.

Definitions are JSON or YAML files (`examples/` has some). `validate` needs no database: it runs
the domain's own checks. `apply` stores a new version (a running service decides every later move
under it), `apply --dry-run` prints what applying would do and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.console import run_on_database, say

pipeline_cli = typer.Typer(help="Pipelines: the statuses, moves and reasons leads go through.")

NameOption = Annotated[
    str | None,
    typer.Option("--name", help="Pipeline name (default: the file's name without extension)."),
]


def _read(path: Path) -> Any:
    """A definition file's document: YAML for .yaml/.yml, JSON otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as unreadable:
        raise typer.BadParameter(f"cannot read {path}: {unreadable.strerror}") from None
    import yaml

    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as malformed:
        kind = path.suffix[1:] or "JSON"
        raise typer.BadParameter(f"{path} is not valid {kind}: {malformed}") from None


def _name(path: Path, name: str | None) -> str:
    from app.pipelines.definition import KEY_PATTERN

    chosen = name or path.stem
    if not KEY_PATTERN.fullmatch(chosen):
        raise typer.BadParameter(
            f"{chosen!r} is not a pipeline name (lower-case letters, digits, '_'); use --name."
        )
    return chosen


def _print_violations(violations: Any) -> None:
    for v in violations:
        say(f"  {v.pointer or '/'}: {v.message}")


def _emit(content: Any) -> None:
    typer.echo(json.dumps(content, indent=2, default=str))


@pipeline_cli.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="A JSON or YAML definition.")],
    name: NameOption = None,
) -> None:
    """Check a definition file offline: every violation, with its JSON pointer."""
    from app.pipelines.definition import build_workflow, split_remap
    from app.platform.errors import InvalidPipeline

    pipeline = _name(file, name)
    document = _read(file)
    body, _ = split_remap(document)
    try:
        workflow = build_workflow(body, pipeline=pipeline, version=1)
    except InvalidPipeline as invalid:
        say(f"{file}: {len(invalid.violations)} violation(s):")
        _print_violations(invalid.violations)
        raise typer.Exit(1) from None
    say(
        f"{file}: valid. {len(workflow.statuses)} statuses "
        f"({len(workflow.open_statuses)} open), initial {workflow.initial}."
    )


@pipeline_cli.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="A JSON or YAML definition (may hold `remap`).")],
    name: NameOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
) -> None:
    """Make the file the pipeline's next version (the first, for a new pipeline)."""
    from app.pipelines.cache import Workflows
    from app.pipelines.service import apply_pipeline, review_pipeline
    from app.platform.errors import InvalidPipeline, StatusesInUse

    pipeline = _name(file, name)
    document = _read(file)
    if dry_run:
        review = run_on_database(lambda pool: review_pipeline(pool, name=pipeline, body=document))
        if review.violations:
            say(f"{file}: {len(review.violations)} violation(s):")
            _print_violations(review.violations)
            raise typer.Exit(1)
        if review.stranded:
            for status, count in review.stranded.items():
                say(f"  {status}: removed, but {count} leads are in it: remap or archive it")
            raise typer.Exit(1)
        say(f"Would create version {review.version} of {pipeline}:")
        for line in review.changes:
            say(f"  {line}")
        for old, new in review.remap.items():
            say(f"  remap {old} -> {new}: {review.leads_to_remap.get(old, 0)} leads move")
        say("Nothing was changed (--dry-run).")
        return
    try:
        applied = run_on_database(
            lambda pool: apply_pipeline(
                pool, Workflows(pool), name=pipeline, body=document, if_match=None, created_by="cli"
            )
        )
    except InvalidPipeline as invalid:
        say(f"{file}: {len(invalid.violations)} violation(s); nothing was changed:")
        _print_violations(invalid.violations)
        raise typer.Exit(1) from None
    except StatusesInUse as in_use:
        say(f"error: {in_use.detail}")
        raise typer.Exit(1) from None
    version = applied.record["version"]
    if not applied.new_version:
        say(f"{pipeline} is already at this definition (version {version}); nothing changed.")
        return
    what = "Created pipeline" if applied.created_pipeline else "Applied"
    say(f"{what} {pipeline} version {version}.")
    for line in applied.record["changes"]:
        say(f"  {line}")
    for old, moved in applied.remapped.items():
        say(f"  moved {moved} leads out of {old}")


@pipeline_cli.command("list")
def list_() -> None:
    """Every pipeline, its current version and how many leads it holds (JSON on stdout)."""
    from app.pipelines.service import list_pipelines

    rows = run_on_database(list_pipelines)
    _emit(
        [
            {
                "name": r["pipeline"],
                "version": r["version"],
                "leads": r["leads"],
                "statuses": [s["key"] for s in r["definition"]["statuses"]],
            }
            for r in rows
        ]
    )


@pipeline_cli.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    version: Annotated[int | None, typer.Option(help="A past version (default: current).")] = None,
) -> None:
    """A pipeline's definition document (JSON on stdout: a file `apply` takes back)."""
    from app.pipelines.service import get_pipeline
    from app.platform.errors import PipelineNotFound

    try:
        row = run_on_database(lambda pool: get_pipeline(pool, name=name, version=version))
    except PipelineNotFound as missing:
        say(f"error: {missing.detail}")
        raise typer.Exit(1) from None
    say(f"{name} version {row['version']} (current: {row['current_version']})")
    _emit(row["definition"])


@pipeline_cli.command("versions")
def versions(name: Annotated[str, typer.Argument(help="Pipeline name.")]) -> None:
    """Every version: when, by whom, what it changed (JSON on stdout)."""
    from app.pipelines.service import pipeline_versions, version_public
    from app.platform.errors import PipelineNotFound

    try:
        rows = run_on_database(lambda pool: pipeline_versions(pool, name=name))
    except PipelineNotFound as missing:
        say(f"error: {missing.detail}")
        raise typer.Exit(1) from None
    _emit([version_public(r) for r in rows])
