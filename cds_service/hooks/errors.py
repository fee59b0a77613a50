"""The one place that turns exceptions into HTTP answers.

- :class:`cds_service.errors.CdsError` → its status and ``{"error", "message", …details}``;
- werkzeug ``HTTPException`` (unknown URL, wrong method, body too large) → the
  same JSON shape with its status (and its ``Allow`` header for 405);
- anything else → logged with a stack trace, counted in the metrics, answered
  ``500 {"error": "internal-error", "message": …}`` — never a stack trace in the
  body, and never ``{"cards": []}``, which an EHR would read as "no advice".
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from cds_service.errors import CdsError, ServiceUnavailable, Unauthorized
from cds_service.hooks.logs import loggable_path

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
}
INTERNAL_MESSAGE = "The service failed to handle this request; the error has been logged."


def json_error(status: int, body: dict, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CdsError)
    def cds_error(exc: CdsError) -> Response:
        g.error_code = exc.code
        headers = None
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, ServiceUnavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        if exc.status >= 500:
            log.error("%s answered %d", exc.code, exc.status, extra={"path": loggable_path(request.path)})
        return json_error(exc.status, exc.body(), headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, f"http-{status}")
        g.error_code = code
        headers = {}
        allow = exc.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
        message = exc.description or exc.name
        if status == 404:
            message = f"No such endpoint: {request.method} {request.path}"
        elif status == 405:
            message = f"Method {request.method} is not allowed here (allowed: {allow})"
        return json_error(status, {"error": code, "message": message}, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        g.error_code = "internal-error"
        # The formatter logs the exception's type and code locations, never its message.
        log.error(
            "unexpected error %s",
            type(exc).__name__,
            exc_info=exc,
            extra={"path": loggable_path(request.path), "hook_instance": g.get("hook_instance")},
        )
        state = app.extensions.get("cds")
        if state is not None:
            state.metrics.errors.labels(kind=type(exc).__name__).inc()
        return json_error(500, {"error": "internal-error", "message": INTERNAL_MESSAGE})
