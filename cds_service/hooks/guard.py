"""The JWT guard of the CDS Hooks endpoints (discovery, invoke, feedback), as a blueprint hook."""

from __future__ import annotations

from flask import request

from cds_service.errors import Unauthorized
from cds_service.hooks.auth import bearer_token, expected_audiences
from cds_service.hooks.state import get_state


def require_jwt() -> None:
    """Blueprint guard for the CDS Hooks endpoints (discovery, invoke, feedback).

    The expected audience comes from configuration (see :func:`expected_audiences`),
    never from the ``Host`` header. A refusal is counted with its reason code.
    """
    state = get_state()
    if state.verifier is None or request.method == "OPTIONS":
        return
    config = state.config
    try:
        state.verifier.verify(bearer_token(request),
                              expected_audiences(request, config.public_base_url, production=config.production))
    except Unauthorized as exc:
        state.metrics.jwt_rejected.labels(reason=getattr(exc, "reason", "invalid")).inc()
        raise
