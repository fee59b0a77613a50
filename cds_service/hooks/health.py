"""Operational endpoints: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus).

- ``/healthz`` answers 200 whenever the process can answer at all: restart me only when this fails.
  It reports the dependencies for information but never fails because of them.
- ``/readyz`` is 503 while a dependency the configuration names is down — the feedback database
  (always configured) and Redis (``CDS_REDIS_URL``) — and 200 when all are up. Hook calls keep
  answering while a dependency is down (feedback posts get 503), so a load balancer may keep
  sending hook calls to a not-ready instance; the probe tells operators what is broken.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST

from cds_service import __version__
from cds_service.hooks.state import get_state
from cds_service.services import SERVICES

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

REDIS_TIMEOUT = 1.0  # seconds: a readiness probe must answer quickly


@dataclass
class RedisProbe:
    """Pings the configured Redis; one client per app, created on first use."""

    url: str
    _client: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self) -> bool:
        try:
            with self._lock:
                if self._client is None:
                    import redis

                    self._client = redis.Redis.from_url(self.url, socket_connect_timeout=REDIS_TIMEOUT,
                                                        socket_timeout=REDIS_TIMEOUT)
            return bool(self._client.ping())
        except Exception as exc:  # down, refused, timeout, not installed
            log.warning("readiness: Redis is unavailable (%s)", type(exc).__name__)
            return False


def install_readiness(app: Flask, redis_url: str | None) -> None:
    app.extensions["cds_redis_probe"] = RedisProbe(redis_url) if redis_url else None


def dependency_status() -> dict[str, str]:
    """``{"feedbackDatabase": "up"|"down", "redis": …}`` for the dependencies that are configured."""
    state = get_state()
    status = {"feedbackDatabase": "up" if state.store.available() else "down"}
    probe: RedisProbe | None = current_app.extensions.get("cds_redis_probe")
    if probe is not None:
        status["redis"] = "up" if probe.ok() else "down"
    return status


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.get("/healthz")
def healthz() -> Response:
    state = get_state()
    return _json({
        "status": "ok",
        "version": __version__,
        "services": len(SERVICES),
        "feedbackDatabase": state.store.backend_name,
        "jwtRequired": state.config.jwt_required,
    })


@bp.get("/readyz")
def readyz() -> Response:
    started = time.perf_counter()
    dependencies = dependency_status()
    ready = all(v == "up" for v in dependencies.values())
    body = {"status": "ready" if ready else "not-ready", "dependencies": dependencies,
            "checkedInMs": round((time.perf_counter() - started) * 1000, 1)}
    return _json(body, 200 if ready else 503, None if ready else {"Retry-After": "5"})


@bp.get("/metrics")
def metrics() -> Response:
    return Response(get_state().metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
