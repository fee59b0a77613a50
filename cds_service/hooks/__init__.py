"""The CDS Hooks 2.0 protocol layer.

- :mod:`.discovery` ``GET /cds-services``; :mod:`.invoke` ``POST /cds-services/{id}``;
  :mod:`.feedback` ``POST /cds-services/{id}/feedback``; :mod:`.health` ``/healthz`` and ``/metrics``;
- :mod:`.validation` request checks (400 with the field named); :mod:`.auth` and :mod:`.guard`
  JWT verification; :mod:`.cors`; :mod:`.errors` the one exception → HTTP mapping;
- :mod:`.observe` per-call log line and metrics; :mod:`.metrics`; :mod:`.logs` JSON log lines;
- :mod:`.state` what one app instance holds (built in :func:`cds_service.app.create_app`).
"""
