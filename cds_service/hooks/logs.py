"""Logging: one JSON object per line; never request bodies, patient ids, tokens or JWTs.

Callers pass structured fields with ``extra={...}`` (hook_instance, service,
status, duration_ms); the formatter puts them next to the message.

Exceptions are logged as their type and code locations (``exc_type``,
``exc_where``: file, line and function of the innermost frames), never their
message: messages of parser, database and HTTP errors can quote record values,
URLs with patient ids, or SQL parameters. Lines are ASCII (``\\u`` escapes), so
a lone surrogate in a client string can never break the log stream.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import datetime, timezone
from types import TracebackType

from werkzeug.serving import WSGIRequestHandler

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry.update(exception_fields(record.exc_info[0], record.exc_info[2]))
        return json.dumps(entry, default=str)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        """Never the message, also for handlers that call this directly."""
        return json.dumps(exception_fields(ei[0], ei[2])) if ei and ei[0] is not None else ""


MAX_FRAMES = 8


def exception_fields(exc_type: type[BaseException], tb: TracebackType | None) -> dict[str, object]:
    """``exc_type`` (qualified name) and ``exc_where`` (innermost frames as ``file:line in function``)."""
    frames = traceback.extract_tb(tb)[-MAX_FRAMES:] if tb is not None else []
    return {
        "exc_type": f"{exc_type.__module__}.{exc_type.__qualname__}"
        if exc_type.__module__ not in ("builtins", None) else exc_type.__qualname__,
        "exc_where": [f"{_short_path(f.filename)}:{f.lineno} in {f.name}" for f in frames],
    }


def _short_path(filename: str) -> str:
    """A frame's file relative to site-packages or the checkout (no home directories in logs)."""
    for marker in ("/site-packages/", "/dist-packages/", "/lib/python"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    parts = filename.replace("\\", "/").split("/")
    return "/".join(parts[-3:])


_FIXED_PATHS = frozenset({"/cds-services", "/healthz", "/readyz", "/metrics", "/openapi.json"})


def loggable_path(path: str) -> str:
    """A request path fit for the logs: known endpoints as they are, anything else reduced.

    Demo FHIR paths keep their resource type only (``/demo/fhir/Patient``), CDS service paths their
    service id when it is one of ours; other paths (which a client chooses freely) become ``other``.
    """
    from cds_service.services import SERVICES_BY_ID

    path = path.split("?", 1)[0]
    if path in _FIXED_PATHS:
        return path
    if path.startswith("/demo/fhir"):
        rest = path[len("/demo/fhir"):].strip("/")
        first = rest.split("/", 1)[0]
        return "/demo/fhir/" + first if first.isalpha() else "/demo/fhir"
    if path.startswith("/cds-services/"):
        parts = path[len("/cds-services/"):].split("/")
        service = parts[0] if parts[0] in SERVICES_BY_ID else "<unknown>"
        return "/cds-services/" + service + ("/feedback" if parts[1:] == ["feedback"] else "")
    return "other"


def configure_logging(level: str | None = None) -> None:
    """Send the service's logs to stderr as JSON lines (CLI ``serve`` and the wsgi entry point)."""
    root = logging.getLogger()
    if any(getattr(h, "_cds_handler", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._cds_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("CDS_LOG_LEVEL") or "INFO").upper())
    quiet_third_party_loggers()


# Libraries whose chatty levels would log request URLs (``GET /fhir/Observation?patient=…``) or
# statements: never below WARNING, even with CDS_LOG_LEVEL=DEBUG.
THIRD_PARTY_LOGGERS = ("urllib3", "requests", "psycopg", "redis", "schemathesis", "hypothesis")


def quiet_third_party_loggers() -> None:
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class RedactingRequestHandler(WSGIRequestHandler):
    """The development server's access log without query strings or resource ids.

    werkzeug logs the request line, which would put patient ids in the log
    (``/demo/fhir/Condition?patient=…``, ``/demo/fhir/Patient/<id>``).
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/demo/fhir/"):
            path = "/demo/fhir/" + path[len("/demo/fhir/"):].split("/", 1)[0]
        status = getattr(code, "value", code)
        self.log("info", '"%s %s" %s', self.command, path, status)
