"""Production entry point for a WSGI server:

    gunicorn -c python:cds_service.gunicorn_conf -w 4 --threads 8 -b 0.0.0.0:8080 cds_service.wsgi:app

(the config module sets up ``PROMETHEUS_MULTIPROC_DIR`` so ``/metrics`` adds up all workers, and
trusts no forwarded headers; see :mod:`cds_service.gunicorn_conf`).

Production mode: JWT verification is on unless ``CDS_JWT_REQUIRED=false`` is
set explicitly, and ``CDS_ALLOWED_FHIR_SERVERS`` must be set — the service
refuses to start otherwise. Each gunicorn worker builds its own app (engine,
HTTP session pool, feedback database connection) when it imports this module.

A configuration or database problem at startup is one line on stderr and exit
status 4 — gunicorn's "App failed to load", which stops the master instead of
respawning workers that would fail the same way — never a traceback.

The collector is then tuned for serving (``cds_service.gc_tuning``).
"""

from __future__ import annotations

import sys

from cds_service.app import create_app
from cds_service.config import Config, ConfigError
from cds_service.feedback_store import StoreUnavailable
from cds_service.gc_tuning import tune_gc_for_serving
from cds_service.hooks.guard import scheme_from_socket
from cds_service.hooks.logs import configure_logging

APP_LOAD_ERROR = 4  # gunicorn.arbiter.Arbiter.APP_LOAD_ERROR

configure_logging()
try:
    app = create_app(Config.from_env(production=True))
except (ConfigError, StoreUnavailable) as exc:
    print(f"neuro-onc-cds: cannot start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(APP_LOAD_ERROR) from None
app.wsgi_app = scheme_from_socket(app.wsgi_app)  # gunicorn trusts X-Forwarded-Proto from loopback: we do not
tune_gc_for_serving()  # after start-up: see gc_tuning (a third of a call's time went to the collector)
