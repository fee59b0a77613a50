"""Per-call logging and metrics for the CDS Hooks endpoints.

Logged: endpoint, service id, hookInstance, status, duration. Never bodies,
patient ids, tokens or JWTs.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from cds_service.services import SERVICES_BY_ID

log = logging.getLogger("cds_service.access")

def _endpoint() -> str | None:
    if request.path == "/cds-services":
        return "discovery"
    if request.path.startswith("/cds-services/"):
        return "feedback" if request.path.endswith("/feedback") else "invoke"
    return None


def register_observers(app: Flask) -> None:
    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        endpoint = _endpoint()
        if endpoint is None or request.method == "OPTIONS":
            return response
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        service_id = (request.view_args or {}).get("service_id")
        if service_id is None and endpoint != "discovery":  # routing failed (405): read it from the path
            service_id = request.path.removeprefix("/cds-services/").split("/", 1)[0]
        service = service_id if service_id in SERVICES_BY_ID else ("-" if endpoint == "discovery" else "unknown")
        state = app.extensions["cds"]
        state.metrics.hook_calls.labels(endpoint=endpoint, service=service, status=str(response.status_code)).inc()
        state.metrics.hook_latency.labels(endpoint=endpoint, service=service).observe(elapsed)
        log.info(
            "%s %s %d", endpoint, service, response.status_code,
            extra={
                "endpoint": endpoint,
                "service": service,
                "hook_instance": g.get("hook_instance"),
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "error": g.get("error_code"),
            },
        )
        return response
