"""gunicorn settings for the service: ``gunicorn -c python:cds_service.gunicorn_conf cds_service.wsgi:app``.

What it adds to plain gunicorn:

- **Metrics across workers**: ``PROMETHEUS_MULTIPROC_DIR`` (default: a fresh directory under the
  system temp dir, one per master) is created and emptied when the master starts, before any
  worker imports prometheus_client; a dead worker's files are marked dead. ``/metrics`` then adds
  up every worker (see :mod:`cds_service.hooks.metrics`).
- **Workers**: ``gthread`` workers (``CDS_GUNICORN_WORKERS``, default 2; ``CDS_GUNICORN_THREADS``,
  default 8), no ``preload_app`` (each worker opens its own database connection, HTTP pool and
  threads after the fork), ``CDS_BIND`` (default ``127.0.0.1:8080``).
- **Forwarded headers are not trusted**: ``forwarded_allow_ips`` is empty unless
  ``FORWARDED_ALLOW_IPS`` names your proxy, so ``X-Forwarded-*`` from clients never changes
  the scheme or address the service sees (set ``CDS_PUBLIC_BASE_URL`` behind a proxy).
- **No access log** by default (``CDS_ACCESS_LOG=1`` turns it on with a format without the query
  string): the service writes its own JSON line per call without patient data.

Command-line flags still win (``-w 4``, ``-b 0.0.0.0:8080``).
"""

from __future__ import annotations

import os
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

bind = os.environ.get("CDS_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("CDS_GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("CDS_GUNICORN_THREADS", "8"))
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")
limit_request_line = 8190
limit_request_fields = 100
if os.environ.get("CDS_ACCESS_LOG", "").lower() in ("1", "true", "yes", "on"):
    accesslog = "-"
    access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(M)sms'

if not os.environ.get(MULTIPROC_ENV):
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="neuro-onc-cds-metrics-")


def on_starting(server) -> None:
    """Empty the metrics directory: values of an earlier run must not be added to this one."""
    directory = os.environ[MULTIPROC_ENV]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, os.environ[MULTIPROC_ENV])
