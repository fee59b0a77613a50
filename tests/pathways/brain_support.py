"""Shared builders for the brain-metastasis pathway tests.

``BASE`` is a complete, quiet record: asymptomatic, KPS 80, expected survival 9
months, one 8 mm metastasis outside critical locations with recorded volumes, no
switch option, colorectal primary (so no GPA), age 70 (RPA class 2), every MDO
information item recorded, palliative care involved, no treatments. Through the
flowchart it ends at A4-no: ``BM-MDO-NEURO`` + ``BM-TX-SRS`` + ``PROG-RPA``.
Tests override single facts (``None`` = unknown).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from cds_service.facts.model import Fact, Facts
from cds_service.pathways import brain
from cds_service.pathways.model import EvalContext, Finding

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
CTX = EvalContext(now=NOW, patient_id="bm-test", user_id="Practitioner/dr-test")

BASE: dict[str, Any] = dict(
    brain_metastases=True,
    treatment_wish=True,
    age_years=70,
    kps=80,
    expected_survival_months=9.0,
    bm_symptomatic=False,
    critical_location=False,
    largest_diameter_mm=8.0,
    brain_metastasis_count=1,
    total_volume_cm3=0.3,
    largest_volume_cm3=0.3,
    systemic_switch_cns_response="none",
    primary_tumour="colorectal",
    driver_alteration=False,
    extracranial_disease_status="stable",
    extracranial_metastases=True,
    previous_treatment_lines=1,
    relevant_comorbidity=False,
    anticoagulation=False,
    dexamethasone_active=False,
    palliative_care_involved=True,
    neurology_involved=False,
    mdo_discussed=False,
    wbrt_done=False,
    resection_done=False,
    systemic_therapy_active=False,
    bm_recurrence=False,
    radionecrosis_suspected=False,
)


def ago(days: float = 0) -> datetime:
    return NOW - timedelta(days=days)


def fact(name: str, value: Any, **attrs: Any) -> Fact:
    """A known fact with attrs (``fact("expected_survival_months", 4.5, category=…, bounds=(3, 6))``)."""
    return Fact.of(name, value, attrs=attrs)


def make(*extra: Fact, **overrides: Any) -> Facts:
    """BASE with overrides; ``name=None`` makes a fact unknown; ``extra`` facts carry attrs."""
    values = {**BASE, **overrides}
    facts = Facts.from_values(now=NOW, **values)
    return facts.with_values(*extra) if extra else facts


def run(facts: Facts, ctx: EvalContext = CTX) -> list[Finding]:
    return brain.evaluate(facts, ctx)


def rules(facts: Facts, ctx: EvalContext = CTX) -> set[str]:
    return {f.rule_id for f in run(facts, ctx)}


def finding(facts: Facts, rule_id: str, ctx: EvalContext = CTX) -> Finding:
    found = [f for f in run(facts, ctx) if f.rule_id == rule_id]
    assert len(found) == 1, f"{rule_id}: {len(found)} findings"
    return found[0]


def survival_category(category: str) -> Fact:
    """Expected survival recorded as a LOCAL category, as the extractor gives it."""
    table = {
        "lt-2-weeks": (0.25, (None, 0.5)),
        "lt-3-months": (2.0, (None, 3)),
        "3-6-months": (4.5, (3, 6)),
        "6-12-months": (9.0, (6, 12)),
        "gt-12-months": (18.0, (12, None)),
    }
    value, bounds = table[category]
    return fact("expected_survival_months", value, category=category, bounds=bounds)
