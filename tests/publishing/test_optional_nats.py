"""nats-py is an optional extra: without it the service, the delivery process and every module
but the NATS side import, and only `leadstatus publish` says what it lacks."""

from __future__ import annotations

import os
import subprocess
import sys

WITHOUT_NATS = "import sys; sys.modules['nats'] = None; "
"""An interpreter where `import nats` fails as it does when the extra is not installed."""


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEADSTATUS_NATS")}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_NATS + code],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_service_and_the_delivery_process_import_without_nats_py() -> None:
    done = run(
        "import app.main, app.cli.main, app.schema, app.webhooks.delivery,"
        " app.publishing.service, app.publishing.repository; print('imported')"
    )
    assert (done.returncode, done.stdout.strip()) == (0, "imported"), done.stderr
    blocked = run("import app.publishing.jetstream")
    assert "ModuleNotFoundError" in blocked.stderr  # the check does block nats


def test_publish_says_what_it_lacks() -> None:
    publish = "from app.cli.main import main; sys.argv = ['leadstatus', 'publish']; main()"
    unset = run(publish)
    assert unset.returncode == 2
    assert "LEADSTATUS_NATS_URL is unset" in unset.stderr
    missing = run(publish, LEADSTATUS_NATS_URL="nats://127.0.0.1:4222")
    assert missing.returncode == 2
    assert "pip install 'leadstatus[nats]'" in missing.stderr
