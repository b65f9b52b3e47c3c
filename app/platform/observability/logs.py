"""Log lines a machine can read (JSON) or a developer can (text), and never a secret.

Every line carries its time, level, logger and message; a line logged while a request is being
served also carries that request's id, so an error line can be joined to its request line. Extra
facts travel in a record's `fields` mapping (`log.info(..., extra={"fields": {...}})`).

Neither format prints a stack trace, only the exception's class: a trace can quote SQL, a
connection string or a request's data, and the request id is enough to find the request.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["auto", "json", "text"]

REQUEST_ID: ContextVar[str | None] = ContextVar("leadstatus_request_id", default=None)
"""The id of the request being served in this context; set by the request middleware."""

REQUEST_LOGGER = "leadstatus.requests"


def _facts(record: logging.LogRecord) -> dict[str, Any]:
    """What a line says beyond its message: request id, the record's fields, the error class."""
    facts: dict[str, Any] = {}
    request_id = REQUEST_ID.get()
    if request_id is not None:
        facts["request_id"] = request_id
    fields = getattr(record, "fields", None)
    if isinstance(fields, Mapping):
        facts.update(fields)
    if record.exc_info and record.exc_info[0] is not None:
        facts["error"] = record.exc_info[0].__name__
    return facts


class JsonLines(logging.Formatter):
    """One JSON object per line, for log collectors; times in UTC, to the millisecond."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        # Every request writes a line: format the date and time once a second, not per line.
        whole = int(created)
        second, prefix = self._second
        if whole != second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, prefix)
        return f"{prefix}.{int((created - whole) * 1000):03d}Z"

    def line(
        self, created: float, level: str, logger: str, message: str, facts: Mapping[str, Any]
    ) -> str:
        """One line, from its parts: what `format` writes for a record."""
        line = {
            "time": self._time(created),
            "level": level,
            "logger": logger,
            "message": message,
            **facts,
        }
        return orjson.dumps(line, default=str).decode()

    def format(self, record: logging.LogRecord) -> str:
        return self.line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            _facts(record),
        )


class TextLines(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, for a developer's terminal.

    Facts the message already says (a request line's method, route and status) and empty ones
    are left out, so a line stays short enough to read.
    """

    SAID = frozenset({"method", "route", "status"})

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created).isoformat(sep=" ", timespec="milliseconds")
        facts = " ".join(
            f"{name}={value}"
            for name, value in _facts(record).items()
            if value is not None and name not in self.SAID
        )
        head = f"{at} {record.levelname:<7} {record.name}: {record.getMessage()}"
        return f"{head} {facts}" if facts else head


def chosen_format(wanted: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """`auto` is text on a terminal (development) and JSON anywhere else (a deployment)."""
    if wanted != "auto":
        return wanted
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def formatter(kind: Literal["json", "text"]) -> logging.Formatter:
    """The formatter of a served process, which also stops each record from gathering what no
    line prints: thread, process and caller (a stack walk per line), as the logging HOWTO's
    "Optimization" section suggests; most of all, every request's line pays for them."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    return JsonLines() if kind == "json" else TextLines()


QUEUED_LINES = 10_000
"""Lines waiting for stderr before new ones are dropped (a few MB at most)."""
EXIT_WAIT_S = 2.0
WRITE_EVERY_S = 0.05


class BackgroundLines(logging.Handler):
    """Keeps each formatted line in memory for a thread that writes them to stderr every
    `WRITE_EVERY_S`, many lines a write, so no request waits on the log's reader: a full pipe or
    a slow collector would otherwise stop the event loop (and every request) inside a `write`,
    and a write per line costs a system call and a thread switch each. When the reader falls
    `QUEUED_LINES` behind, new lines are dropped and counted, and a warning line says how many.
    At exit the lines get `EXIT_WAIT_S` to go out, so a stuck reader cannot keep the process."""

    def __init__(self, stream: TextIO | None = None, *, start: bool = True) -> None:
        super().__init__()
        self._lines: deque[str] = deque()
        self.dropped = 0
        self._stream = stream or sys.stderr
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write, name="log-writer", daemon=True)
        if start:
            self._writer.start()
            atexit.register(self.drain)

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: appending to a deque is atomic, and only the writer takes lines out.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add_line(line)

    def add_line(self, line: str) -> None:
        """Queue a formatted line for the writer (dropped and counted when it is too far behind)."""
        if len(self._lines) >= QUEUED_LINES:
            self.dropped += 1
            return
        self._lines.append(line)

    def _write(self) -> None:
        while not self._stop.wait(WRITE_EVERY_S):
            self.write_pending()
        self.write_pending()

    def write_pending(self) -> None:
        """Write every line waiting, in one write (the writer thread calls this)."""
        batch = []
        while self._lines:
            batch.append(self._lines.popleft())
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            notice = logging.LogRecord(
                "leadstatus.logs",
                logging.WARNING,
                __file__,
                0,
                "%d log lines dropped: stderr fell behind",
                (dropped,),
                None,
            )
            batch.append(self.format(notice))
        if batch:
            try:
                self._stream.write("\n".join(batch) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # stderr is gone: there is nowhere left to say so

    def drain(self) -> None:
        """Let the writer write what is waiting, for at most `EXIT_WAIT_S`."""
        self._stop.set()
        self._writer.join(EXIT_WAIT_S)


LineWriter = Callable[[str, Mapping[str, Any]], None]
"""Writes one INFO line of a logger: its message and facts."""


def direct_line_writer(logger: logging.Logger) -> LineWriter | None:
    """For the one line written per request: straight to the queue of the JSON handler, without
    a `LogRecord` and the handler walk, which cost a few per cent of a request's CPU. Only where
    logging is as `logging_config` sets it up (one JSON `BackgroundLines` handler, no filters),
    so the line is the very one `JsonLines.format` would write; anywhere else (a text terminal,
    a test's capturing handler), None, and the line goes through `logging` as usual."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        handlers.extend(current.handlers)
        current = current.parent if current.propagate else None
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    formatter = handler.formatter
    if (
        not isinstance(handler, BackgroundLines)
        or not isinstance(formatter, JsonLines)
        or handler.filters
        or handler.level > logging.INFO
    ):
        return None
    name = logger.name

    def write(message: str, facts: Mapping[str, Any]) -> None:
        handler.add_line(formatter.line(time.time(), "info", name, message, facts))

    return write


def logging_config(*, wanted: LogFormat, level: str, stream: TextIO) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary: every line on stderr in the chosen format.

    Handed to uvicorn as its `log_config`, so each worker process applies it too; its own
    loggers (`uvicorn.error`, `uvicorn.access`) then write through the same formatter.
    """
    level = level.upper()
    return {
        "version": 1,
        # Loggers made at import time (leadstatus.*) must keep working.
        "disable_existing_loggers": False,
        "formatters": {
            "leadstatus": {"()": f"{__name__}.formatter", "kind": chosen_format(wanted, stream)}
        },
        "handlers": {"stderr": {"()": f"{__name__}.BackgroundLines", "formatter": "leadstatus"}},
        # Libraries speak up only when something is wrong; the service and its server as asked.
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "leadstatus": {"level": level},
            "uvicorn": {"level": level},
        },
    }
