"""Production entry point for a WSGI server:

    gunicorn -w 4 -k gthread --threads 8 -b 0.0.0.0:8080 cds_service.wsgi:app

Production mode: JWT verification is on unless ``CDS_JWT_REQUIRED=false`` is
set explicitly, and ``CDS_ALLOWED_FHIR_SERVERS`` must be set — the service
refuses to start otherwise. Each gunicorn worker builds its own app (engine,
HTTP session pool, feedback database connection) when it imports this module, then
tunes the garbage collector for serving (``cds_service.gc_tuning``).
"""

from __future__ import annotations

from cds_service.app import create_app
from cds_service.config import Config
from cds_service.gc_tuning import tune_gc_for_serving
from cds_service.hooks.logs import configure_logging

configure_logging()
app = create_app(Config.from_env(production=True))
tune_gc_for_serving()  # after start-up: see gc_tuning (a third of a call's time went to the collector)
