"""Prometheus metrics of one app (its own CollectorRegistry, never the global one).

Labels are bounded: service ids come from the catalogue (unknown ids count as
``unknown``), hooks from the services, rule ids from the card templates,
statuses are HTTP codes, FHIR resource types from a fixed list.

Several worker processes (gunicorn ``-w N``): set ``PROMETHEUS_MULTIPROC_DIR``
to an empty directory writable by every worker before the server starts (the
shipped gunicorn config, ``cds_service.gunicorn_conf``, does it and empties it
at start). prometheus_client then keeps each worker's values in memory-mapped
files there, and ``/metrics`` adds up all workers, whichever worker answers
the scrape.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# FHIR resource types a fetch can name (the prefetch templates' types); anything else counts as "other".
FHIR_TYPES = frozenset({
    "Patient", "Condition", "Observation", "Procedure", "ImagingStudy", "MedicationRequest",
    "MedicationStatement", "ServiceRequest", "Encounter", "Bundle", "metadata",
})


def multiprocess_dir() -> str | None:
    """The multiprocess directory when prometheus_client runs in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.hook_calls = Counter(
            "cds_hook_calls", "CDS Hooks endpoint calls by endpoint, service, hook and HTTP status",
            ["endpoint", "service", "hook", "status"], registry=self.registry,
        )
        self.hook_latency = Histogram(
            "cds_hook_duration_seconds", "Time to answer a CDS Hooks call, by endpoint, service and hook",
            ["endpoint", "service", "hook"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.responses = Counter(
            "cds_http_responses", "Every HTTP response by endpoint and status class (2xx, 4xx, 5xx)",
            ["endpoint", "status_class"], registry=self.registry,
        )
        self.errors = Counter(
            "cds_errors", "Unexpected errors (answered 500), by exception type",
            ["kind"], registry=self.registry,
        )
        self.cards = Counter(
            "cds_cards_issued", "Cards returned, by service and rule id",
            ["service", "rule"], registry=self.registry,
        )
        self.prefetch_unavailable = Counter(
            "cds_prefetch_unavailable", "Optional prefetch keys that could not be had",
            ["key"], registry=self.registry,
        )
        self.unreadable_drafts = Counter(
            "cds_unreadable_draft_orders", "Draft orders the order reader could not read (reported as DATA-MISSING)",
            ["service"], registry=self.registry,
        )
        self.fhir_latency = Histogram(
            "cds_fhir_fetch_duration_seconds", "FHIR server requests (until the response headers), by resource type",
            ["resource"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.fhir_errors = Counter(
            "cds_fhir_fetch_errors", "Failed FHIR server requests, by resource type and kind "
            "(http-4xx, http-5xx, or the transport exception type)",
            ["resource", "kind"], registry=self.registry,
        )
        self.feedback = Counter(
            "cds_feedback_items", "Feedback items received, by service and outcome",
            ["service", "outcome"], registry=self.registry,
        )
        self.feedback_unavailable = Counter(
            "cds_feedback_unavailable", "Feedback posts answered 503 because the feedback store was down",
            registry=self.registry,
        )
        self.jwt_rejected = Counter(
            "cds_jwt_rejected", "Requests rejected by JWT verification, by reason code",
            ["reason"], registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text exposition: every worker's values in multiprocess mode, else this process's."""
        directory = multiprocess_dir()
        if directory:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)

    # -- FHIR fetches --------------------------------------------------------------
    def instrument_session(self, session: Any) -> None:
        """Time every request a ``requests.Session``'s adapters send and count its failures.

        Wraps the mounted adapters' ``send`` (the FHIR client keeps one pooled session), so the
        client itself needs no metrics code. Only the resource type is recorded, never the URL.
        """
        adapters = getattr(session, "adapters", None)
        if not adapters:
            return
        for adapter in {id(a): a for a in adapters.values()}.values():
            if getattr(adapter, "_cds_instrumented", False):
                continue
            adapter.send = self._timed_send(adapter)
            adapter._cds_instrumented = True

    def _timed_send(self, adapter: Any):
        latency, errors = self.fhir_latency, self.fhir_errors

        def timed_send(request, *args, **kwargs):
            send = type(adapter).send.__get__(adapter)  # looked up per call: test mocks patch the class
            resource = fhir_resource_type(getattr(request, "path_url", "") or "")
            started = time.perf_counter()
            try:
                response = send(request, *args, **kwargs)
            except Exception as exc:
                latency.labels(resource=resource).observe(time.perf_counter() - started)
                errors.labels(resource=resource, kind=type(exc).__name__).inc()
                raise
            latency.labels(resource=resource).observe(time.perf_counter() - started)
            status = getattr(response, "status_code", 0)
            if status >= 400:
                errors.labels(resource=resource, kind=f"http-{status // 100}xx").inc()
            return response

        return timed_send


def fhir_resource_type(path_url: str) -> str:
    """``/fhir/Observation?patient=…`` → ``Observation``; never an id or a query value."""
    for segment in reversed(path_url.split("?", 1)[0].split("/")):
        if segment in FHIR_TYPES:
            return segment
    return "other"
