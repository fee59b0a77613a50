"""Operational endpoints: ``/healthz`` (liveness + feedback database) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import json

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from cds_service import __version__
from cds_service.hooks.state import get_state
from cds_service.services import SERVICES

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    state = get_state()
    database_ok = state.store.ping()
    body = {
        "status": "ok" if database_ok else "degraded",
        "version": __version__,
        "services": len(SERVICES),
        "feedbackDatabase": state.store.backend_name if database_ok else "unreachable",
        "jwtRequired": state.config.jwt_required,
    }
    return Response(json.dumps(body), status=200 if database_ok else 503, mimetype="application/json")


@bp.get("/metrics")
def metrics() -> Response:
    return Response(get_state().metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
