"""After treatment (catalog §1d, §1e): post-operative policy, follow-up MRI, recurrence; order hooks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cds_service.facts.model import Treatment
from cds_service.pathways import brain
from cds_service.pathways.brain_atoms import add_months
from cds_service.pathways.model import DraftOrder, EvalContext

from .brain_support import NOW, ago, fact, finding, make, rules, run

RPA, NEURO, SRS, RESTRAINT = "PROG-RPA", "BM-MDO-NEURO", "BM-TX-SRS", "BM-RESTRAINT"
MRI, POSTOP, WAIT, RECUR = "BM-FOLLOWUP-MRI", "BM-POSTOP-SRS", "BM-POSTOP-WAITSCAN", "BM-RECURRENCE-MDO"
AFTER_MDO = dict(mdo_discussed=True)  # treatment done: the MDO has been held, no TX considerations


def resected(days_ago: float = 30, **kw):
    """A resection ``days_ago``, MDO held, a post-operative MRI 10 days ago."""
    return make(fact("resection_done", True, date=ago(days_ago)), focal_treatment_date=ago(days_ago),
                last_brain_mri_date=ago(10), **AFTER_MDO, **kw)


# -- after resection (000) -------------------------------------------------------------------------

POSTOP_CASES = [
    ("incomplete resection", dict(resection_extent="incomplete"), {NEURO, POSTOP, RPA}, "incomplete"),
    ("complete, tumour ≥ 25 mm", dict(resection_extent="complete", resected_tumour_diameter_mm=25.0),
     {NEURO, POSTOP, RPA}, "complete-large"),
    ("complete, tumour < 25 mm", dict(resection_extent="complete", resected_tumour_diameter_mm=24.0),
     {NEURO, WAIT, RPA}, None),
    # both branches treat the cavity; the variants differ, so the card takes the general wording
    ("extent unknown", dict(resected_tumour_diameter_mm=30.0), {NEURO, POSTOP, RPA}, None),
    ("extent unknown, small tumour", dict(resected_tumour_diameter_mm=20.0), {NEURO, "DATA-MISSING", RPA}, None),
    ("complete, size unknown", dict(resection_extent="complete"), {NEURO, "DATA-MISSING", RPA}, None),
]


@pytest.mark.parametrize("overrides, expected, variant", [c[1:] for c in POSTOP_CASES],
                         ids=[c[0] for c in POSTOP_CASES])
def test_postop_branches(overrides, expected, variant):
    facts = resected(**overrides)
    assert rules(facts) == expected
    for rule_id in (POSTOP, WAIT):
        if rule_id in expected:
            assert finding(facts, rule_id).variant == variant


def test_waitscan_needs_every_fact_known():
    facts = resected(resection_extent="complete", resected_tumour_diameter_mm=None)
    missing = finding(facts, "DATA-MISSING")
    assert missing.facts_missing == ("resected_tumour_diameter_mm",)


def test_postop_extent_unknown_but_large_tumour_says_it_did_not_matter():
    f = finding(resected(resected_tumour_diameter_mm=30.0), POSTOP)
    assert "unknown-ok:resection_extent" in f.notes


def test_no_postop_card_once_the_cavity_was_irradiated():
    facts = resected(resection_extent="incomplete")
    facts = type(facts)(values=facts.values, treatments=(Treatment("resection", ago(30)), Treatment("srs", ago(5))),
                        now=NOW)
    assert rules(facts) == {NEURO, RPA}


def test_no_postop_card_long_after_the_operation():
    assert rules(resected(days_ago=400, resection_extent="incomplete")) == {NEURO, RPA}


# -- follow-up MRI (000) ---------------------------------------------------------------------------


def followed_up(treated_days_ago: float | None, last_mri: datetime | None, **kw):
    focal = ago(treated_days_ago) if treated_days_ago is not None else None
    return make(focal_treatment_date=focal, last_brain_mri_date=last_mri, **AFTER_MDO, **kw)


def months_ago(n: int, days: int = 0) -> datetime:
    return add_months(NOW, -n) - timedelta(days=days)


FOLLOWUP_CASES = [
    ("SRS 1 year ago, last MRI 4 months + 1 day ago", followed_up(365, months_ago(4, 1)), {NEURO, MRI, RPA},
     "focal-early"),
    ("SRS 1 year ago, last MRI exactly 4 months ago", followed_up(365, months_ago(4)), {NEURO, RPA}, None),
    ("SRS 1 year ago, last MRI 3 months ago", followed_up(365, months_ago(3)), {NEURO, RPA}, None),
    ("SRS 3 years ago, last MRI 5 months ago", followed_up(3 * 365, months_ago(5)), {NEURO, RPA}, None),
    ("SRS 3 years ago, last MRI 7 months ago", followed_up(3 * 365, months_ago(7)), {NEURO, MRI, RPA},
     "focal-late"),
    ("SRS 1 year ago, no MRI since the treatment", followed_up(365, ago(400)), {NEURO, MRI, RPA}, "focal-early"),
    ("SRS 2 months ago, no MRI since", followed_up(60, ago(70)), {NEURO, RPA}, None),
    ("systemic therapy, last MRI 5 months ago", followed_up(None, months_ago(5), systemic_therapy_active=True),
     {NEURO, MRI, RPA}, "systemic"),
    ("systemic therapy, last MRI 3 months ago", followed_up(None, months_ago(3), systemic_therapy_active=True),
     {NEURO, RPA}, None),
    ("no treatment at all", followed_up(None, months_ago(8)), {NEURO, RPA}, None),
    ("after WBRT: never", followed_up(365, months_ago(8), wbrt_done=True), {NEURO, RPA}, None),
    ("after WBRT on systemic therapy: never", followed_up(None, months_ago(8), wbrt_done=True,
                                                          systemic_therapy_active=True), {NEURO, RPA}, None),
    ("WBRT unknown, MRI overdue", followed_up(365, months_ago(8), wbrt_done=None), {NEURO, "DATA-MISSING", RPA},
     None),
    ("systemic therapy unknown, MRI overdue", followed_up(None, months_ago(8), systemic_therapy_active=None),
     {NEURO, "DATA-MISSING", RPA}, None),
    ("no treatment wish: no follow-up MRI", followed_up(365, months_ago(8), treatment_wish=False), {RESTRAINT, RPA},
     None),
]


@pytest.mark.parametrize("facts, expected, variant", [c[1:] for c in FOLLOWUP_CASES],
                         ids=[c[0] for c in FOLLOWUP_CASES])
def test_followup_mri(facts, expected, variant):
    assert rules(facts) == expected
    if MRI in expected:
        f = finding(facts, MRI)
        assert f.variant == variant
        assert f.suggestions[0].actions[0].resource_kind == "mri-brain"


@pytest.mark.parametrize("days_before_two_years, expected", [
    (1, {NEURO, MRI, RPA}),  # still within the first 2 years: every 4 months → 5 months is overdue
    (0, {NEURO, RPA}),  # exactly 2 years: every 6 months → 5 months is not
])
def test_two_years_since_treatment(days_before_two_years, expected):
    treated = add_months(NOW, -24) + timedelta(days=days_before_two_years)
    assert rules(make(focal_treatment_date=treated, last_brain_mri_date=months_ago(5), **AFTER_MDO)) == expected


def test_followup_card_gives_interval_and_due_date():
    f = finding(followed_up(365, months_ago(5)), MRI)
    assert f.params["interval_months"] == 4
    assert f.params["due_date"] == add_months(months_ago(5), 4)


# -- recurrence and radionecrosis ------------------------------------------------------------------


@pytest.mark.parametrize("overrides, expected, variant", [
    (dict(bm_recurrence=True), {NEURO, SRS, RECUR, RPA}, None),
    (dict(bm_recurrence=True, kps=60), {RESTRAINT, RECUR, RPA}, "organ"),
    (dict(bm_recurrence=True, systemic_switch_cns_response="high"), {"BM-MDO-ORGAN", "BM-TX-SRS", RECUR, RPA}, "organ"),
    (dict(radionecrosis_suspected=True), {RECUR, RPA}, "radionecrosis"),
    (dict(radionecrosis_suspected=True, bm_recurrence=True), {RECUR, RPA}, "both"),
    (dict(radionecrosis_suspected=True, kps=60), {RECUR, RPA}, "radionecrosis"),
    (dict(bm_recurrence=True, treatment_wish=False), {RESTRAINT, RPA}, None),
    (dict(bm_recurrence=None, radionecrosis_suspected=None), {NEURO, SRS, RPA}, None),
])
def test_recurrence(overrides, expected, variant):
    facts = make(**overrides)
    assert rules(facts) == expected
    if RECUR in expected:
        assert finding(facts, RECUR).variant == variant


def test_recurrence_after_mdo_is_info():
    facts = make(fact("mdo_discussed", True, date=ago(3), missing_specialties=frozenset()), bm_recurrence=True)
    f = finding(facts, RECUR)
    assert (f.variant, f.indicator, f.suggestions) == ("discussed", "info", ())


def test_radionecrosis_note_and_dexamethasone():
    f = finding(make(radionecrosis_suspected=True, dexamethasone_active=True), RECUR)
    assert f.notes == ("radionecrosis", "dexamethasone-dependent")
    assert f.suggestions[0].label_key == "refer-mdo"


def test_radionecrosis_with_missing_information_adds_the_checklist():
    assert rules(make(radionecrosis_suspected=True, anticoagulation=None)) == {RECUR, RPA, "BM-MDO-INFO-MISSING"}


# -- order hooks -----------------------------------------------------------------------------------


def order(kind: str, oid: str = "ServiceRequest/draft-1") -> DraftOrder:
    return DraftOrder(id=oid, kind=kind, resource={"resourceType": "ServiceRequest", "id": oid.split("/")[1]},
                      display=kind, purpose="follow-up" if kind == "mri-brain" else None)


def order_ctx(*orders: DraftOrder, hook: str = "order-select") -> EvalContext:
    return EvalContext(now=NOW, hook=hook, draft_orders=orders, patient_id="bm-test")


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_mri_after_wbrt_is_info_on_the_order(hook):
    facts = make(fact("wbrt_done", True, date=ago(200)))
    (f,) = brain.evaluate_orders(facts, order_ctx(order("mri-brain"), hook=hook))
    assert (f.rule_id, f.indicator, f.variant, f.order_id) == (MRI, "info", "not-needed-after-wbrt",
                                                               "ServiceRequest/draft-1")
    assert f.suggestions == ()


@pytest.mark.parametrize("overrides", [dict(wbrt_done=False), dict(wbrt_done=None), dict(brain_metastases=False)])
def test_mri_order_without_known_wbrt_is_silent(overrides):
    assert brain.evaluate_orders(make(**overrides), order_ctx(order("mri-brain"))) == []


def test_mdo_referral_with_missing_information_warns():
    facts = make(anticoagulation=None, relevant_comorbidity=None)
    (f,) = brain.evaluate_orders(facts, order_ctx(order("mdo-referral", "ServiceRequest/mdo-1")))
    assert (f.rule_id, f.indicator, f.variant, f.order_id) == ("BM-MDO-INFO-MISSING", "warning", "order",
                                                               "ServiceRequest/mdo-1")
    assert f.notes == ("item:comorbidity", "item:anticoagulation")
    assert f.facts_missing == ("relevant_comorbidity", "anticoagulation")
    assert f.params["missing_count"] == 2


def test_complete_mdo_referral_is_silent():
    assert brain.evaluate_orders(make(), order_ctx(order("mdo-referral"))) == []


def test_unselected_referral_on_order_select_is_ignored():
    draft = DraftOrder(id="ServiceRequest/x", kind="mdo-referral", resource={}, selected=False)
    assert brain.evaluate_orders(make(anticoagulation=None), order_ctx(draft)) == []


def test_other_orders_are_ignored():
    assert brain.evaluate_orders(make(anticoagulation=None, wbrt_done=True), order_ctx(order("rt-brain"))) == []


def test_patient_view_runs_nothing_of_the_order_checks():
    assert all(f.order_id is None for f in run(make(wbrt_done=True)))
