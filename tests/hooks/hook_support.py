"""Helpers of the HTTP tests: a small test Engine (fake facts layer and one fake pathway), request builders.

Imported by name (``from hook_support import …``): ``conftest`` is ambiguous when several test folders
have one.

The fake pathway emits DATA-MISSING (a template that exists), so these tests do
not depend on the pathway or facts code; the ``real_engine`` tests use
``Engine.load()`` and run once those layers exist.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from cds_service.cards.actions import load_order_templates
from cds_service.cards.templates import TemplateSet, load_templates
from cds_service.config import Config
from cds_service.engine import Engine
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Facts
from cds_service.pathways.common import data_missing
from cds_service.services import SERVICES

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
BASE = "http://localhost"
FHIR = "http://127.0.0.1:9999/fhir"


class FakeExtractor:
    """Stands in for cds_service.facts.extract.FactExtractor; remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def extract(self, resources, *, now, unavailable_sources=frozenset()):
        self.calls.append({"resources": resources, "now": now, "unavailable": frozenset(unavailable_sources)})
        return Facts(values={}, unavailable_sources=frozenset(unavailable_sources), now=now)


class FakeClassifier:
    def classify(self, draft_orders, selections, *, language="nl"):
        return ()


def fake_pathway(facts, ctx):
    return [data_missing(["kps"], "A1: KPS is needed for triage")]


COMMON_TEMPLATE_FILES = ("common.yaml", "common_rules.yaml", "override_reasons.yaml", "values.yaml")


@functools.lru_cache(maxsize=1)
def common_templates() -> TemplateSet:
    """The shipped common templates (DATA-MISSING, shared phrases), read with the real loader.

    Only the common files: the protocol tests must not break while a pathway's
    template file is being written.
    """
    import cds_service.card_templates as shipped

    root = tempfile.mkdtemp(prefix="cds-templates-")
    package = f"cds_test_card_templates_{uuid.uuid4().hex[:8]}"
    target = f"{root}/{package}"
    os.makedirs(target)
    open(f"{target}/__init__.py", "w").close()
    for name in COMMON_TEMPLATE_FILES:
        shutil.copy(f"{shipped.__path__[0]}/{name}", target)
    sys.path.insert(0, root)
    try:
        return load_templates(package)
    finally:
        sys.path.remove(root)


def make_engine(pathway: Callable = fake_pathway) -> Engine:
    return Engine(
        extractor=FakeExtractor(),
        classifier=FakeClassifier(),
        templates=common_templates(),
        catalogue=load_fact_catalogue(),
        order_templates=load_order_templates(),
        tz=ZoneInfo("Europe/Amsterdam"),
        pathways={s.id: (pathway,) for s in SERVICES},
    )


def make_config(tmp_path, **kw: Any) -> Config:
    kw.setdefault("database", str(tmp_path / "feedback.sqlite3"))
    return Config(**kw)


def bundle(*resources: dict, next_url: str | None = None) -> dict:
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                           "entry": [{"resource": r} for r in resources]}
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def full_prefetch(patient_id: str = "p1") -> dict:
    """A prefetch with every key of the patient-view services answered."""
    return {
        "patient": {"resourceType": "Patient", "id": patient_id},
        "conditions": bundle({"resourceType": "Condition", "id": "c1"}),
        "observations": bundle({"resourceType": "Observation", "id": "o1"}),
        "procedures": bundle(),
        "imagingStudies": bundle(),
        "medicationRequests": bundle(),
        "medicationStatements": bundle(),
        "serviceRequests": bundle(),
        "encounters": bundle(),
    }


def hook_request(hook: str = "patient-view", **overrides: Any) -> dict:
    context: dict[str, Any] = {"userId": "Practitioner/u1", "patientId": "p1"}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = bundle({"resourceType": "ServiceRequest", "id": "sr1", "status": "draft",
                                         "intent": "order", "subject": {"reference": "Patient/p1"}})
    if hook == "order-select":
        context["selections"] = ["ServiceRequest/sr1"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": full_prefetch(),
    }
    body.update(overrides)
    return body


