"""Security headers on every response.

The service answers JSON (and the Prometheus text format): nothing may be sniffed
as HTML, framed, cached or leak a referrer. The one exception is the SMART app's
pages under ``/smart/``, which get a CSP that lets them load their own scripts
and may be framed by the EHR. Hook and
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
# The SMART app (cds_service.smart) is the one set of pages: its own scripts, styles and images only
# (LHC-Forms sets inline styles), calls to this origin only, and framing allowed — EHRs embed SMART apps.
SMART_PREFIX = "/smart/"
SMART_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
                               "base-uri 'none'; form-action 'self'; object-src 'none'",
}
HSTS = "max-age=31536000"


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        if request.path.startswith(SMART_PREFIX):
            for name, value in HEADERS.items():
                if name not in ("X-Frame-Options", "Content-Security-Policy", "Cross-Origin-Opener-Policy"):
                    response.headers.setdefault(name, value)
            for name, value in SMART_HEADERS.items():
                response.headers.setdefault(name, value)
        else:
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
