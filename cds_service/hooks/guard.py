"""The JWT guard of the CDS Hooks endpoints (discovery, invoke, feedback), as a blueprint hook."""

from __future__ import annotations

import ssl
from typing import Any, Callable, Iterable

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


def scheme_from_socket(wsgi_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: ``wsgi.url_scheme`` is what the socket is (TLS or not), whatever a header claims.

    gunicorn trusts ``X-Forwarded-Proto`` (and friends) from ``forwarded_allow_ips``,
    loopback by default. The service derives nothing trusted from the scheme, and
    with this wrapper (applied by ``cds_service.wsgi``) a forwarded header cannot
    even change what the app sees.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
        if sock is not None:
            environ["wsgi.url_scheme"] = "https" if isinstance(sock, ssl.SSLSocket) else "http"
        return wsgi_app(environ, start_response)

    return app
