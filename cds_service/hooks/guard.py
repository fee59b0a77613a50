"""The JWT guard of the CDS Hooks endpoints (discovery, invoke, feedback), as a blueprint hook."""

from __future__ import annotations

from flask import request

from cds_service.hooks.auth import bearer_token, expected_audience
from cds_service.hooks.state import get_state


def require_jwt() -> None:
    """Blueprint guard for the CDS Hooks endpoints (discovery, invoke, feedback)."""
    state = get_state()
    if state.verifier is None or request.method == "OPTIONS":
        return
    try:
        state.verifier.verify(bearer_token(request), expected_audience(request, state.config.public_base_url))
    except Exception:
        state.metrics.jwt_rejected.inc()
        raise
