"""Production entry point for a WSGI server:

    gunicorn -c python:cds_service.gunicorn_conf -w 4 --threads 8 -b 0.0.0.0:8080 cds_service.wsgi:app

(the config module sets up ``PROMETHEUS_MULTIPROC_DIR`` so ``/metrics`` adds up all workers, and
trusts no forwarded headers; see :mod:`cds_service.gunicorn_conf`).

Production mode: JWT verification is on unless ``CDS_JWT_REQUIRED=false`` is
set explicitly, and ``CDS_ALLOWED_FHIR_SERVERS`` must be set — the service
refuses to start otherwise. Each gunicorn worker builds its own app (engine,
HTTP session pool, feedback database connection) when it imports this module.
"""

from __future__ import annotations

from cds_service.app import create_app
from cds_service.config import Config
from cds_service.hooks.logs import configure_logging

configure_logging()
app = create_app(Config.from_env(production=True))
