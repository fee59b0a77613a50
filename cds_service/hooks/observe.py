"""Per-call logging and metrics.

One JSON log line per CDS Hooks call (discovery, hook, feedback): endpoint,
service id, hook, hookInstance, status, duration, the rule ids of the cards
returned and the error code. Never bodies, patient ids, names, tokens or JWTs.
Every response (health, metrics, OpenAPI included) is counted by status class.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from cds_service.services import SERVICES_BY_ID

log = logging.getLogger("cds_service.access")


def _endpoint() -> str:
    path = request.path
    if path == "/cds-services":
        return "discovery"
    if path.startswith("/cds-services/"):
        return "feedback" if path.endswith("/feedback") else "invoke"
    if path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        return path[1:]
    if path.startswith("/demo/fhir"):
        return "demo-fhir"
    return "other"


def register_observers(app: Flask) -> None:
    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        state = app.extensions["cds"]
        endpoint = _endpoint()
        status = response.status_code
        state.metrics.responses.labels(endpoint=endpoint, status_class=f"{status // 100}xx").inc()
        if endpoint not in ("discovery", "invoke", "feedback") or request.method == "OPTIONS":
            return response
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        service_id = (request.view_args or {}).get("service_id")
        if service_id is None and endpoint != "discovery":  # routing failed (405): read it from the path
            service_id = request.path.removeprefix("/cds-services/").split("/", 1)[0]
        known = SERVICES_BY_ID.get(service_id or "")
        service = known.id if known else ("-" if endpoint == "discovery" else "unknown")
        hook = known.hook if known else "-"
        state.metrics.hook_calls.labels(endpoint=endpoint, service=service, hook=hook, status=str(status)).inc()
        state.metrics.hook_latency.labels(endpoint=endpoint, service=service, hook=hook).observe(elapsed)
        log.info(
            "%s %s %d", endpoint, service, status,
            extra={
                "endpoint": endpoint,
                "service": service,
                "hook": hook,
                "hook_instance": g.get("hook_instance"),
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
                "rules": g.get("rule_ids"),
                "error": g.get("error_code"),
            },
        )
        return response
