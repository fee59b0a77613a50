"""CORS for browser-based CDS clients (the CDS Hooks sandbox, SMART apps).

Preflight (``OPTIONS``) is answered here, before JWT verification — browsers
never send credentials on a preflight. Every response, errors included, gets
the CORS headers: a missing header on a POST answer is a classic client
failure (hapi-fhir-jpaserver-starter#717).
"""

from __future__ import annotations

from typing import Sequence

from flask import Flask, Response, request

ALLOW_HEADERS = "Authorization, Content-Type"
ALLOW_METHODS = "GET, POST, OPTIONS"
MAX_AGE = "600"


def _allowed_origin(origins: Sequence[str]) -> str | None:
    if "*" in origins:
        return "*"
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/") in {o.rstrip("/") for o in origins}:
        return origin
    return None


def register_cors(app: Flask, origins: Sequence[str]) -> None:
    origins = tuple(origins)

    @app.before_request
    def preflight() -> Response | None:
        if request.method == "OPTIONS":
            return Response(status=204)
        return None

    @app.after_request
    def add_headers(response: Response) -> Response:
        allowed = _allowed_origin(origins)
        if allowed is not None:
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
        if allowed != "*":
            response.vary.add("Origin")
        return response
