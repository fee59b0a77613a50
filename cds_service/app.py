"""The Flask app factory. Nothing happens at import time; everything is built in :func:`create_app`.

The expensive parts (mappings, card templates, pathways: the :class:`Engine`;
the HTTP session pool; the feedback database) are built once per app and
shared by every request. Tests inject their own engine, clock and store.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from flask import Flask

from cds_service.config import Config
from cds_service.engine import Engine
from cds_service.feedback_store import FeedbackStore
from cds_service.fhir.client import FhirClient
from cds_service.fhir.prefetch import FhirServerPolicy, PrefetchResolver
from cds_service.hooks import discovery, feedback, health, invoke, openapi
from cds_service.hooks.auth import JwtVerifier
from cds_service.hooks.cors import register_cors
from cds_service.hooks.errors import register_error_handlers
from cds_service.hooks.headers import register_security_headers
from cds_service.hooks.metrics import Metrics
from cds_service.hooks.observe import register_observers
from cds_service.hooks.state import CdsState, install
from cds_service.smart.routes import bp as smart_bp

log = logging.getLogger(__name__)

DEMO_FHIR_PREFIX = "/demo/fhir"


def make_clock(config: Config) -> Callable[[], datetime]:
    if config.fixed_now is not None:
        log.warning("CDS_FIXED_NOW is set: every evaluation runs at %s (tests and demos only)",
                    config.fixed_now.isoformat())
        fixed = config.fixed_now
        return lambda: fixed
    return lambda: datetime.now(timezone.utc)


def create_app(config: Config | None = None, *, engine: Engine | None = None,
               clock: Callable[[], datetime] | None = None,
               feedback_store: FeedbackStore | None = None) -> Flask:
    """Build the CDS Hooks service. ``config`` defaults to :meth:`Config.from_env` (development mode)."""
    config = config or Config.from_env()
    config.validate()
    app = Flask("cds_service")
    # Bodies above CDS_MAX_BODY_BYTES (10 MB; a large patient's prefetch is a few MB) are refused with
    # 413 while reading, also when sent chunked without a Content-Length.
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False

    if config.jwt_required:
        replay = None
        if config.redis_url:
            from cds_service.hooks.auth import RedisReplayCache

            replay = RedisReplayCache(config.redis_url)
        verifier = JwtVerifier(config.trusted_issuers, leeway=config.jwt_leeway,
                               max_lifetime=config.jwt_max_lifetime, replay=replay)
    else:
        verifier = None
        log.warning("JWT verification is OFF (CDS_JWT_REQUIRED=false): any client may call this service")
    if not config.allowed_fhir_servers:
        log.warning("CDS_ALLOWED_FHIR_SERVERS is not set: only loopback FHIR servers%s may be contacted",
                    " and the embedded demo FHIR server" if config.demo_fhir else "")

    client = FhirClient.from_config(config)
    metrics = Metrics()
    metrics.instrument_session(getattr(client, "session", None))
    demo_base = None
    if config.demo_fhir:
        if config.production:
            log.warning("CDS_DEMO_FHIR is on in production: every demo patient is served without "
                        "authentication at %s — demos only", DEMO_FHIR_PREFIX)
        from cds_service.demo_fhir import blueprint as demo_blueprint, demo_fhir_base

        app.register_blueprint(demo_blueprint, url_prefix=DEMO_FHIR_PREFIX)
        demo_base = demo_fhir_base

    state = CdsState(
        config=config,
        engine=engine if engine is not None else Engine.load(tz=config.timezone),
        # Lazy: a feedback database that is down at start (or later) never stops advice; feedback
        # posts get 503 until it is back, and /readyz says so.
        store=feedback_store if feedback_store is not None else FeedbackStore.open(config.database, lazy=True),
        client=client,
        resolver=PrefetchResolver(
            client, FhirServerPolicy(config.allowed_fhir_servers, production=config.production),
            workers=config.fhir_workers,
        ),
        metrics=metrics,
        clock=clock or make_clock(config),
        verifier=verifier,
        demo_fhir_base=demo_base,
        discovery_body=discovery.discovery_document(),
    )
    install(app, state)
    health.install_readiness(app, config.redis_url)

    register_cors(app, config.cors_origins)  # first: a preflight is answered before anything else
    register_security_headers(app)
    register_observers(app)
    register_error_handlers(app)
    for blueprint in (discovery.bp, invoke.bp, feedback.bp, health.bp, openapi.bp, smart_bp):
        app.register_blueprint(blueprint)
    return app
