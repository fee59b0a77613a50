"""Security headers on every response.

The service answers JSON only (and the Prometheus text format), never pages:
nothing may be sniffed as HTML, framed, cached or leak a referrer. Hook and
feedback answers carry patient facts and must never sit in a shared or
browser cache: every answer is ``Cache-Control: no-store`` except the static
OpenAPI document. CORS headers are added by :mod:`.cors`.
"""

from __future__ import annotations

from flask import Flask, Response, request

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CACHEABLE_PATHS = frozenset({"/openapi.json"})  # a static document
HSTS = "max-age=31536000"


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path in CACHEABLE_PATHS and response.status_code == 200:
            response.headers["Cache-Control"] = "private, max-age=60"
        else:
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
