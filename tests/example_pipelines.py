"""The pipelines the database tests run on: the shipped default, and the enterprise example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.pipelines.default import DEFAULT_DOCUMENT, DEFAULT_PIPELINE
from app.pipelines.definition import build_workflow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT = build_workflow(DEFAULT_DOCUMENT, pipeline=DEFAULT_PIPELINE, version=1)
ENTERPRISE_DOCUMENT: dict[str, Any] = json.loads((EXAMPLES / "enterprise.json").read_text())
ENTERPRISE = build_workflow(ENTERPRISE_DOCUMENT, pipeline="enterprise", version=1)
