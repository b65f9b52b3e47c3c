"""The pure parts of observability: request ids, log line formats, the logging setup, labels."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from starlette.datastructures import State

from app.intake.domain import IntakeOutcome
from app.platform.observability import logs
from app.platform.observability.logs import (
    REQUEST_ID,
    JsonLines,
    TextLines,
    chosen_format,
    logging_config,
)
from app.platform.observability.metrics import Instruments
from app.platform.observability.middleware import request_id
from app.platform.settings import Settings


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(message: str = "moved %s", *args: Any, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("leadstatus.test", logging.INFO, __file__, 1, message, args, None)
    made.created = 0.25
    made.__dict__.update(extra)
    return made


def failing_record() -> logging.LogRecord:
    try:
        raise ValueError("SELECT secret FROM api_keys")
    except ValueError:
        made = record("unexpected error")
        made.exc_info = sys.exc_info()
        made.levelno, made.levelname = logging.ERROR, "ERROR"
        return made


REQUEST_FIELDS = {
    "method": "POST",
    "route": "/v1/leads",
    "status": 201,
    "duration_ms": 1.25,
    "request_id": "abc",
    "key_name": "crm-app",
    "client": None,
}


# --- request ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [b"a", b"trace-1/x:y=z", b"x" * 128, b"a b"])
def test_a_sane_request_id_is_kept(sent: bytes) -> None:
    assert request_id([(b"accept", b"*/*"), (b"x-request-id", sent)]) == sent


@pytest.mark.parametrize(
    "sent", [b"", b"x" * 129, b"caf\xc3\xa9", b"a\nb", b"a\x7fb", b" a", b"a "]
)
def test_an_insane_request_id_is_replaced_by_a_uuid4(sent: bytes) -> None:
    replaced = request_id([(b"x-request-id", sent)])
    assert replaced != sent and len(replaced) == 32 and replaced[12:13] == b"4"


def test_without_a_request_id_each_request_gets_a_new_uuid4() -> None:
    made = [request_id([]) for _ in range(50)]
    assert len(set(made)) == 50
    assert all(uuid.UUID(hex=m.decode()).version == 4 for m in made)
    assert all(uuid.UUID(hex=m.decode()).variant == uuid.RFC_4122 for m in made)


# --- formats ----------------------------------------------------------------------------------


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    assert chosen_format("auto", Terminal()) == "text"
    assert chosen_format("auto", io.StringIO()) == "json"
    assert chosen_format("json", Terminal()) == "json"
    assert chosen_format("text", io.StringIO()) == "text"


def test_a_json_line_carries_the_message_and_the_fields() -> None:
    line = orjson.loads(JsonLines().format(record("POST %s", "/v1/leads", fields=REQUEST_FIELDS)))
    assert line["message"] == "POST /v1/leads" and line["logger"] == "leadstatus.test"
    assert line["level"] == "info"
    assert datetime.fromisoformat(line["time"]) == datetime.fromtimestamp(0.25, UTC)
    assert {k: line[k] for k in REQUEST_FIELDS} == REQUEST_FIELDS


def test_a_line_logged_within_a_request_carries_its_id() -> None:
    token = REQUEST_ID.set("req-7")
    try:
        line = orjson.loads(JsonLines().format(record("inside")))
    finally:
        REQUEST_ID.reset(token)
    assert line["request_id"] == "req-7"
    assert "request_id" not in orjson.loads(JsonLines().format(record("outside")))


@pytest.mark.parametrize("formatter", [JsonLines(), TextLines()], ids=["json", "text"])
def test_no_format_prints_a_stack_trace_or_the_error_message(formatter: logging.Formatter) -> None:
    line = formatter.format(failing_record())
    assert "ValueError" in line
    assert "Traceback" not in line and "SELECT" not in line and "\n" not in line


def test_a_text_line_is_for_people() -> None:
    line = TextLines().format(record("POST %s 201", "/v1/leads", fields=REQUEST_FIELDS))
    assert not line.startswith("{")
    assert " INFO    leadstatus.test: POST /v1/leads 201 " in line
    assert "duration_ms=1.25" in line and "key_name=crm-app" in line and "request_id=abc" in line
    assert "client=" not in line and "route=" not in line  # empty, or said already


# --- the logging setup `leadstatus serve` hands to uvicorn -------------------------------------

APPLY = """
import logging, logging.config, sys
from app.platform.observability.logs import logging_config
early = logging.getLogger("leadstatus.early")  # made at import time, before the setup
logging.config.dictConfig(logging_config(wanted=sys.argv[1], level="info", stream=sys.stderr))
early.info("ready on %s", "port 8000")
logging.getLogger("leadstatus.quiet").debug("not at info")
logging.getLogger("some.library").info("libraries only speak up when something is wrong")
logging.getLogger("uvicorn.error").info("Application startup complete.")
"""


def run_setup(wanted: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", APPLY, wanted], capture_output=True, text=True, check=True
    )
    return done.stderr.splitlines()


def test_the_json_setup_writes_the_service_and_server_lines_as_json() -> None:
    lines = [orjson.loads(line) for line in run_setup("json")]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("leadstatus.early", "ready on port 8000"),
        ("uvicorn.error", "Application startup complete."),
    ]


def test_the_text_setup_writes_lines_for_people() -> None:
    lines = run_setup("text")
    assert len(lines) == 2 and not any(line.startswith("{") for line in lines)
    assert lines[0].endswith("INFO    leadstatus.early: ready on port 8000")


def test_auto_setup_off_a_terminal_is_json() -> None:
    config = logging_config(wanted="auto", level="info", stream=io.StringIO())
    assert config["formatters"]["leadstatus"]["kind"] == "json"
    config = logging_config(wanted="auto", level="info", stream=Terminal())
    assert config["formatters"]["leadstatus"]["kind"] == "text"


def test_the_log_format_setting_takes_three_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADSTATUS_LOG_FORMAT", raising=False)
    assert Settings().log_format == "auto"
    monkeypatch.setenv("LEADSTATUS_LOG_FORMAT", "text")
    assert Settings().log_format == "text"
    monkeypatch.setenv("LEADSTATUS_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError):
        Settings()


# --- labels -----------------------------------------------------------------------------------


def exposed(instruments: Instruments) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = instruments.exposition(None)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_methods_outside_http_are_one_label_and_redeliveries_their_own_outcome() -> None:
    instruments = Instruments(State())
    for method in ("GET", "PROPFIND", "X-ANYTHING"):
        instruments.observe_request(method, "/v1/leads", 405, 0.001)
    instruments.count_delivery("forms", None)
    instruments.count_delivery("forms", IntakeOutcome.TOUCHED)
    found = exposed(instruments)
    request = "leadstatus_http_requests_total"
    labels = (("method", "other"), ("route", "/v1/leads"), ("status", "405"))
    assert found[(request, labels)] == 2
    assert {labels[0][1] for name, labels in found if name == request} == {"GET", "other"}
    deliveries = "leadstatus_intake_deliveries_total"
    assert found[(deliveries, (("outcome", "redelivered"), ("source", "forms")))] == 1
    assert found[(deliveries, (("outcome", "touched"), ("source", "forms")))] == 1


def test_without_a_pool_there_are_no_pool_samples() -> None:
    found = exposed(Instruments(State()))
    assert not [name for name, _ in found if name.startswith("leadstatus_db_pool")]


def test_each_app_counts_apart() -> None:
    first, second = Instruments(State()), Instruments(State())
    first.observe_request("GET", "/healthz", 200, 0.001)
    labels = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert exposed(first)[("leadstatus_http_requests_total", labels)] == 1
    assert ("leadstatus_http_requests_total", labels) not in exposed(second)


def test_lines_the_writer_cannot_take_are_dropped_counted_and_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logs, "QUEUED_LINES", 3)
    stderr = io.StringIO()
    handler = logs.BackgroundLines(stderr, start=False)  # no writer yet: lines pile up
    handler.setFormatter(logs.JsonLines())
    logger = logging.getLogger("leadstatus.test.background")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for n in range(5):
            logger.warning("line %d", n)
        assert handler.dropped == 2
        handler.write_pending()
        lines = [orjson.loads(line) for line in stderr.getvalue().splitlines()]
        assert [line["message"] for line in lines] == [
            "line 0",
            "line 1",
            "line 2",
            "2 log lines dropped: stderr fell behind",
        ]
        assert handler.dropped == 0 and lines[-1]["level"] == "warning"
    finally:
        logger.removeHandler(handler)


# --- the request line's direct path -----------------------------------------------------------


def _logger_with(*handlers: logging.Handler) -> logging.Logger:
    parent = logging.Logger("leadstatus-direct-test")
    child = logging.Logger("leadstatus-direct-test.requests")
    child.parent = parent
    for handler in handlers:
        parent.addHandler(handler)
    return child


def test_the_direct_line_is_the_line_the_formatter_writes() -> None:
    handler = logs.BackgroundLines(io.StringIO(), start=False)
    handler.setFormatter(JsonLines())
    logger = _logger_with(handler)
    write = logs.direct_line_writer(logger)
    assert write is not None
    write("POST /v1/leads 201", REQUEST_FIELDS)
    handler.emit(record("POST /v1/leads 201", fields=REQUEST_FIELDS, name=logger.name))
    direct, formatted = (orjson.loads(line) for line in handler._lines)
    assert direct.pop("time").endswith("Z") and formatted.pop("time").endswith("Z")
    assert direct == formatted
    assert list(direct) == ["level", "logger", "message", *REQUEST_FIELDS]


def test_the_direct_line_is_only_taken_where_logging_is_as_configured() -> None:
    json_lines = logs.BackgroundLines(io.StringIO(), start=False)
    json_lines.setFormatter(JsonLines())
    text_lines = logs.BackgroundLines(io.StringIO(), start=False)
    text_lines.setFormatter(TextLines())
    assert logs.direct_line_writer(_logger_with(text_lines)) is None
    assert logs.direct_line_writer(_logger_with(json_lines, logging.StreamHandler())) is None
    filtered = _logger_with(json_lines)
    filtered.addFilter(logging.Filter("elsewhere"))
    assert logs.direct_line_writer(filtered) is None
    assert logs.direct_line_writer(_logger_with(json_lines)) is not None
