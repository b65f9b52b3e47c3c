"""A client generated from the committed OpenAPI document, as an internal app builds one.

`openapi-python-client` generates a Python package from openapi/openapi.json; every one of its
modules must import, and a short sales flow runs through it against a served process: create,
move, a refused move read as its typed problem, lose, reopen, history, the workflow, a metrics
summary and one intake delivery. What the generator cannot read (a body in two content types, a
model described twice) breaks this test before it breaks a client. Run with `make test-clients`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.served import BIN, ServedProcess

pytestmark = pytest.mark.clients

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
PACKAGE = "leadstatus_client"
MARKETO_SOURCE = "marketo-main"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated package's name, importable for the module's tests."""
    out = tmp_path_factory.mktemp("client")
    done = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(DOCUMENT),
            "--meta",
            "none",
            "--output-path",
            str(out / PACKAGE),
        ],
        capture_output=True,
        text=True,
        # The generator formats its output with ruff, which the venv holds.
        env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # A warning means part of the document was left out of the client, or left unformatted.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(out))
    try:
        yield PACKAGE
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _cli(env: dict[str, str], *args: str) -> str:
    """Run `leadstatus ...` on the scratch database; its last line (a key or a secret)."""
    done = subprocess.run(
        [str(BIN / "leadstatus"), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[tuple[str, str, str]]:
    """The service on a free port: its URL, an admin key and a Marketo source's secret."""
    env = dict(os.environ, DATABASE_URL=database_url)
    key = _cli(env, "apikey", "create", "--name", "generated-client", "--scopes", "admin")
    secret = _cli(env, "source", "add", MARKETO_SOURCE, "--kind", "marketo")
    process = ServedProcess(database_url).start()
    try:
        yield process.url, key, secret
    finally:
        process.stop()


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_every_generated_module_imports(generated: str) -> None:
    package = importlib.import_module(generated)
    names = [m.name for m in pkgutil.walk_packages(package.__path__, f"{generated}.")]
    for name in names:
        importlib.import_module(name)
    operations = [n for n in names if n.startswith(f"{generated}.api.") and n.count(".") == 3]
    assert f"{generated}.api.leads.transition_lead" in operations
    assert f"{generated}.api.intake.receive_intake_delivery" in operations


def test_generated_names_are_the_documents_own(generated: str) -> None:
    """Operation and model names come from one rule, not from paths and methods."""
    api = importlib.import_module(f"{generated}.api")
    models = importlib.import_module(f"{generated}.models")
    operations = [m.name for m in pkgutil.walk_packages(api.__path__)]
    route_words = ("_v1_", "_get", "_post", "_put", "_patch", "_delete", "__")
    assert not [n for n in operations if any(w in n for w in route_words)]
    assert not [n for n in models.__all__ if "V1" in n or n.endswith(("Get", "Post", "Body"))]
    assert "TransitionNotAllowedProblem" in models.__all__


def _ok(response: Any, status: int) -> Any:
    assert response.status_code == status, response.content
    return response.parsed


def test_a_sales_flow_through_the_generated_client(
    generated: str, served: tuple[str, str, str]
) -> None:
    url, key, secret = served
    models = _module("models")
    client = _module("client").AuthenticatedClient(base_url=url, token=key)
    create = _module("api.leads.create_lead")
    transition = _module("api.leads.transition_lead")
    reopen = _module("api.leads.reopen_lead")
    history = _module("api.leads.get_lead_history")

    lead = _ok(
        create.sync_detailed(
            client=client,
            body=models.LeadCreate(
                email="dana@northwind.example", company="Northwind", estimated_value=1200.5
            ),
        ),
        201,
    )
    assert isinstance(lead, models.LeadPublic)
    assert (lead.status, lead.version, lead.estimated_value) == ("new", 1, "1200.50")
    assert lead.created_at.tzinfo is not None
    assert lead.created_at.utcoffset() == UTC.utcoffset(None)

    moved = _ok(
        transition.sync_detailed(
            lead.id,
            client=client,
            body=models.TransitionRequest(to="qualified", reason="budget_confirmed"),
        ),
        200,
    )
    assert (moved.status, moved.version) == ("qualified", 2)

    refused = _ok(
        transition.sync_detailed(
            lead.id, client=client, body=models.TransitionRequest(to="dead", reason="unreachable")
        ),
        409,
    )
    assert isinstance(refused, models.TransitionNotAllowedProblem)
    assert "lost" in refused.allowed_targets
    assert refused.current_status == "qualified"

    invalid = _ok(
        create.sync_detailed(client=client, body=models.LeadCreate(email="not an address")),
        422,
    )
    assert isinstance(invalid, models.RequestValidationFailedProblem)
    assert invalid.field == "email"
    assert invalid.errors[0].loc == ["body", "email"]

    lost = models.TransitionRequest(to="lost", reason="competitor", competitor="Globex")
    assert _ok(transition.sync_detailed(lead.id, client=client, body=lost), 200).status == "lost"
    reopened = _ok(
        reopen.sync_detailed(
            lead.id, client=client, body=models.ReopenRequest(reason="competitor_failed")
        ),
        200,
    )
    assert (reopened.status, reopened.version, reopened.reopen_count) == ("qualified", 4, 1)

    changes = _ok(history.sync_detailed(lead.id, client=client), 200)
    assert [(c.from_, c.to, c.reopened) for c in changes] == [
        ("new", "qualified", False),
        ("qualified", "lost", False),
        ("lost", "qualified", True),
    ]
    assert changes[1].competitor == "Globex"

    workflow = _ok(_module("api.workflow.get_workflow").sync_detailed(client=client), 200)
    assert isinstance(workflow, models.WorkflowPublic)
    assert "qualified" in [s.name for s in workflow.statuses]

    summary = _ok(_module("api.metrics.metrics_summary").sync_detailed(client=client), 200)
    assert isinstance(summary, models.SummaryPublic)
    assert summary.created == 1
    assert summary.reopened == 1

    delivery = models.IntakeDelivery.from_dict(
        {"email": "ari@contoso.example", "firstName": "Ari", "id": "1207"}
    )
    sender = client.with_headers({"X-Webhook-Secret": secret})
    answer = _ok(
        _module("api.intake.receive_intake_delivery").sync_detailed(
            MARKETO_SOURCE, client=sender, body=delivery
        ),
        200,
    )
    assert isinstance(answer, models.IntakeAnswer)
    assert answer.outcome == models.IntakeOutcome.CREATED
    arrived = _ok(_module("api.leads.get_lead").sync_detailed(answer.lead_id, client=client), 200)
    assert (arrived.email, arrived.first_name) == ("ari@contoso.example", "Ari")
