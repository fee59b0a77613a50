"""Logging: one JSON object per line; never request bodies, patient ids, tokens or JWTs.

Callers pass structured fields with ``extra={...}`` (hook_instance, service,
status, duration_ms); the formatter puts them next to the message.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone

from werkzeug.serving import WSGIRequestHandler

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


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
