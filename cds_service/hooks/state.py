"""What one app instance holds: built once in ``create_app``, read by the blueprints.

Kept in ``app.extensions["cds"]`` — no module-level globals, so several apps
(tests, a restart in the same process) never share state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping

from flask import Flask, current_app

from cds_service.config import Config
from cds_service.engine import Engine
from cds_service.feedback_store import FeedbackStore
from cds_service.fhir.client import FhirClient
from cds_service.fhir.prefetch import PrefetchResolver
from cds_service.hooks.auth import JwtVerifier, development_bases
from cds_service.hooks.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class CdsState:
    config: Config
    engine: Engine
    store: FeedbackStore
    client: FhirClient
    resolver: PrefetchResolver
    metrics: Metrics
    clock: Callable[[], datetime]
    verifier: JwtVerifier | None = None
    demo_fhir_base: Callable[[str], str] | None = None
    discovery_body: bytes = b""

    def extra_allowed_fhir(self, environ: Mapping[str, Any]) -> tuple[str, ...]:
        """FHIR bases allowed besides the allow-list: the embedded demo server when it is on.

        Taken from configuration, never from the request's ``Host`` header (a client
        could otherwise point the service, and its bearer token, at any host):
        ``CDS_PUBLIC_BASE_URL`` + ``/demo/fhir``; in development without it, the
        address the server listens on (see :func:`development_bases`); in production
        without it, none.
        """
        if self.demo_fhir_base is None:
            return ()
        if self.config.public_base_url:
            return (self.demo_fhir_base(self.config.public_base_url),)
        if self.config.production:
            return ()
        return tuple(self.demo_fhir_base(base) for base in development_bases(environ))

    def close(self) -> None:
        """Flush and release everything (tests and shutdown)."""
        self.resolver.close()
        self.client.close()
        self.store.close()


def install(app: Flask, state: CdsState) -> None:
    app.extensions["cds"] = state


def get_state() -> CdsState:
    return current_app.extensions["cds"]
