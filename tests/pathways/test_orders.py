"""The order hooks' pathway (cds_service/pathways/orders.py): composition of the order-aware checks.

The referral guard is this area's own; the brain and spine checks are their
helpers' and are exercised here only as far as the composition goes (skipped
while a module is not installed).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from cds_service.cards.actions import load_order_templates
from cds_service.cards.render import Renderer
from cds_service.cards.templates import load_templates
from cds_service.cards.validate import check_response
from cds_service.engine import merge_findings
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Fact, Facts
from cds_service.fhir.orders import OrderClassifier
from cds_service.pathways import orders, referral
from cds_service.pathways.model import EvalContext, Finding

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
LNC = "http://loinc.org"
CLASSIFIER = OrderClassifier.load()
ALL4 = frozenset({"neurosurgery", "radiation-oncology", "neurology", "neuroradiology"})


def draft(rid: str, system: str, code: str, **fields) -> dict:
    res = {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
           "subject": {"reference": "Patient/ord-p"}, "code": {"coding": [{"system": system, "code": code}]}}
    res.update(fields)
    return res


SRS = draft("srs-1", LOCAL, "stereotactic-radiosurgery", priority="routine")
MRI_BRAIN_FU = draft("mri-b-1", LNC, "24590-2", priority="routine",
                     reasonCode=[{"coding": [{"system": LOCAL, "code": "follow-up"}]}])
MRI_SPINE = draft("mri-s-1", LNC, "24935-9", priority="routine")
MDO_REF = draft("mdo-1", LOCAL, "neuro-oncology-mdo")


def context(hook: str, *resources: dict, selections=None, language: str = "nl") -> EvalContext:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    drafts = CLASSIFIER.classify(bundle, selections if hook == "order-select" else None, language=language)
    return EvalContext(now=NOW, hook=hook, draft_orders=drafts, patient_id="ord-p", user_id="Practitioner/dr-1")


def bm_facts(**values) -> Facts:
    base = {"brain_metastases": True, "brain_metastases_diagnosis_date": NOW - timedelta(days=90)}
    base.update(values)
    return Facts.from_values(now=NOW, **base)


def render(findings: list[Finding], facts: Facts, ctx: EvalContext, language: str) -> list[dict]:
    ids = count(1)
    r = Renderer(templates=load_templates(), catalogue=load_fact_catalogue(), order_templates=load_order_templates(),
                 new_uuid=lambda: f"uuid-{next(ids)}")
    response = {"cards": r.render(merge_findings(findings), facts, ctx, language)}
    check_response(response)
    return response["cards"]


def test_rules_are_everything_the_order_checks_can_emit():
    assert orders.RULES == ("RT-DIRECT-REFERRAL-BLOCKED", "RT-MDO-INCOMPLETE", "BM-FOLLOWUP-MRI",
                            "BM-MDO-INFO-MISSING", "SM-MRI-URGENCY", "SM-DEXAMETHASONE")


def test_referral_guard_runs_first():
    assert orders.CHECKS[0] is referral.evaluate


def test_brain_and_spine_order_checks_are_composed():
    from cds_service.pathways import brain, spine

    assert orders.CHECKS[1:] == (brain.evaluate_orders, spine.evaluate_orders)


def test_composition_order_and_hook(monkeypatch):
    calls = []

    def check(rule):
        def fn(facts, ctx):
            calls.append(rule)
            return [Finding(rule_id=rule)]
        return fn

    monkeypatch.setattr(orders, "CHECKS", (check("A"), check("B"), check("C")))
    ctx = context("order-sign", SRS)
    assert [f.rule_id for f in orders.evaluate(bm_facts(), ctx)] == ["A", "B", "C"]
    pv = EvalContext(now=NOW, hook="patient-view")
    assert orders.evaluate(bm_facts(), pv) == []
    assert calls == ["A", "B", "C"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_referral_findings_come_through(hook):
    ctx = context(hook, SRS, selections=["ServiceRequest/srs-1"])
    rules = [f.rule_id for f in orders.evaluate(bm_facts(mdo_discussed=False), ctx)]
    assert rules[0] == "RT-DIRECT-REFERRAL-BLOCKED"
    assert "RT-MDO-INCOMPLETE" not in rules


def test_nothing_for_a_patient_without_brain_metastases_and_no_order_of_interest():
    ctx = context("order-sign", draft("x", LNC, "30746-2"))
    assert orders.evaluate(Facts.from_values(now=NOW, brain_metastases=False), ctx) == []


# -- with the brain helper's order checks -------------------------------------------------------------


@pytest.fixture
def brain():
    module = pytest.importorskip("cds_service.pathways.brain")
    if not hasattr(module, "evaluate_orders"):
        pytest.skip("brain.evaluate_orders not written yet")
    return module


@pytest.mark.parametrize("language", ["nl", "en"])
def test_followup_mri_after_wbrt_is_info_next_to_the_rt_guard(brain, language):
    """Selected: an SRS draft and a follow-up brain MRI after WBRT; no MDO recorded."""
    facts = bm_facts(mdo_discussed=False, wbrt_done=True)
    ctx = context("order-select", SRS, MRI_BRAIN_FU, MRI_SPINE,
                  selections=["ServiceRequest/srs-1", "ServiceRequest/mri-b-1"], language=language)
    findings = orders.evaluate(facts, ctx)
    rules = [f.rule_id for f in findings]
    assert rules[:2] == ["RT-DIRECT-REFERRAL-BLOCKED", "BM-FOLLOWUP-MRI"]
    cards = {c["source"]["topic"]["code"]: c for c in render(findings, facts, ctx, language)}
    assert cards["RT-DIRECT-REFERRAL-BLOCKED"]["indicator"] == "warning"
    assert cards["BM-FOLLOWUP-MRI"]["indicator"] == "info"  # never a blocking card


def test_followup_mri_not_selected_gives_no_card(brain):
    facts = bm_facts(mdo_discussed=False, wbrt_done=True)
    ctx = context("order-select", SRS, MRI_BRAIN_FU, selections=["ServiceRequest/srs-1"])
    assert "BM-FOLLOWUP-MRI" not in [f.rule_id for f in orders.evaluate(facts, ctx)]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_mdo_referral_draft_gets_information_card_not_the_guard(brain, language):
    facts = bm_facts(mdo_discussed=False, kps=80)
    ctx = context("order-sign", MDO_REF, language=language)
    findings = orders.evaluate(facts, ctx)
    assert [f.rule_id for f in findings] == ["BM-MDO-INFO-MISSING"]
    [card] = render(findings, facts, ctx, language)
    assert card["indicator"] == "warning"


def test_complete_mdo_and_rt_draft_no_guard_card(brain):
    facts = Facts(values={
        **bm_facts().values,
        "mdo_discussed": Fact.of("mdo_discussed", True, attrs={"date": NOW - timedelta(days=3),
                                                              "specialties": ALL4,
                                                              "missing_specialties": frozenset()}),
    }, now=NOW)
    ctx = context("order-sign", SRS)
    assert orders.evaluate(facts, ctx) == []


# -- with the spine helper's order checks -------------------------------------------------------------


@pytest.fixture
def spine():
    module = pytest.importorskip("cds_service.pathways.spine")
    if not hasattr(module, "evaluate_orders"):
        pytest.skip("spine.evaluate_orders not written yet")
    return module


@pytest.mark.parametrize("language", ["nl", "en"])
def test_slow_spine_mri_draft_gets_an_update_with_the_whole_resource(spine, language):
    """Unilateral progressive radicular deficit since 2 days, recorded 1 h ago: MRI within 24 h (asap)."""
    facts = Facts(values={
        "spinal_metastases": Fact.of("spinal_metastases", True),
        "radicular_deficit": Fact.of("radicular_deficit", "unilateral",
                                     attrs={"onset": NOW - timedelta(days=2), "recorded": NOW - timedelta(hours=1),
                                            "progressive": True}),
        "adequate_spine_imaging": Fact.of("adequate_spine_imaging", False),
        "brain_metastases": Fact.of("brain_metastases", False),
    }, now=NOW)
    ctx = context("order-select", MRI_SPINE, SRS, selections=["ServiceRequest/mri-s-1"], language=language)
    findings = orders.evaluate(facts, ctx)
    assert "SM-MRI-URGENCY" in [f.rule_id for f in findings]
    cards = {c["source"]["topic"]["code"]: c for c in render(findings, facts, ctx, language)}
    card = cards["SM-MRI-URGENCY"]
    assert card["indicator"] == "warning"
    [action] = card["suggestions"][0]["actions"]
    assert action["type"] == "update"
    resource = action["resource"]
    assert resource["id"] == "mri-s-1" and resource["priority"] == "asap"
    for key in ("resourceType", "status", "intent", "subject", "code"):
        assert resource[key] == MRI_SPINE[key]
