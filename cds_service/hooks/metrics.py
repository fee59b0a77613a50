"""Prometheus metrics of one app (its own CollectorRegistry, never the global one).

Labels are bounded: service ids come from the catalogue (unknown ids count as
``unknown``), rule ids from the card templates, statuses are HTTP codes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.hook_calls = Counter(
            "cds_hook_calls", "CDS Hooks endpoint calls by service and HTTP status",
            ["endpoint", "service", "status"], registry=self.registry,
        )
        self.hook_latency = Histogram(
            "cds_hook_duration_seconds", "Time to answer a CDS Hooks call",
            ["endpoint", "service"], buckets=LATENCY_BUCKETS, registry=self.registry,
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
        self.feedback = Counter(
            "cds_feedback_items", "Feedback items received, by service and outcome",
            ["service", "outcome"], registry=self.registry,
        )
        self.jwt_rejected = Counter(
            "cds_jwt_rejected", "Requests rejected by JWT verification, by reason code",
            ["reason"], registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
