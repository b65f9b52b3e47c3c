"""`leadstatus pipeline ...`: define, check, apply and read pipelines from files."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import yaml

from tests.cli_runner import leadstatus
from tests.example_pipelines import ENTERPRISE_DOCUMENT, EXAMPLES


async def test_validate_reports_every_violation_without_a_database(tmp_path: Path) -> None:
    ok = await leadstatus("pipeline", "validate", str(EXAMPLES / "enterprise.json"))
    assert ok.exit_code == 0 and "valid. 12 statuses (4 open)" in ok.output
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**ENTERPRISE_DOCUMENT, "initial": "closed_lost", "extra": 1}))
    bad = await leadstatus("pipeline", "validate", str(broken))
    assert bad.exit_code == 1
    assert "/initial: The initial status 'closed_lost' must have the outcome 'open'." in bad.output
    assert "/extra: Unknown member 'extra'." in bad.output
    garbled = tmp_path / "garbled.yaml"
    garbled.write_text("statuses: [unclosed")
    assert (await leadstatus("pipeline", "validate", str(garbled))).exit_code == 2


async def test_apply_reads_yaml_dry_runs_first_and_keeps_versions(
    cli_env: None, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    as_yaml = tmp_path / "enterprise.yaml"
    as_yaml.write_text(yaml.safe_dump(ENTERPRISE_DOCUMENT))
    dry = await leadstatus("pipeline", "apply", str(as_yaml), "--dry-run")
    assert dry.exit_code == 0 and "Would create version 1 of enterprise" in dry.output
    assert await pool.fetchval("SELECT count(*) FROM pipelines WHERE name = 'enterprise'") == 0
    made = await leadstatus("pipeline", "apply", str(as_yaml))
    assert made.exit_code == 0 and "Created pipeline enterprise version 1." in made.output
    again = await leadstatus("pipeline", "apply", str(as_yaml))
    assert "already at this definition (version 1)" in again.output

    renamed = {**ENTERPRISE_DOCUMENT, "label": "Enterprise"}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(renamed))
    applied = await leadstatus("pipeline", "apply", str(edited), "--name", "enterprise")
    assert applied.exit_code == 0 and "Applied enterprise version 2." in applied.output
    shown = await leadstatus("pipeline", "show", "enterprise")
    assert json.loads(shown.stdout)["label"] == "Enterprise"
    first = await leadstatus("pipeline", "show", "enterprise", "--version", "1")
    assert json.loads(first.stdout)["label"] == "Enterprise deals"
    versions = json.loads((await leadstatus("pipeline", "versions", "enterprise")).stdout)
    assert [(v["version"], v["created_by"]) for v in versions] == [(1, "cli"), (2, "cli")]
    listed = json.loads((await leadstatus("pipeline", "list")).stdout)
    assert [(p["name"], p["version"]) for p in listed] == [("default", 1), ("enterprise", 2)]
    missing = await leadstatus("pipeline", "show", "nope")
    assert missing.exit_code == 1 and "No pipeline is named 'nope'." in missing.output
