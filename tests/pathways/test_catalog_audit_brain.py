"""Catalog audit (guideline-rules.md §1, §5): every threshold and exception of the brain pathway, as written.

Each row changes one fact of the quiet ``BASE`` record right at a catalog boundary and asserts the exact
set of rule ids. ``≥`` vs ``>`` is the point of most rows: the row names the catalog text it pins.
"""

from __future__ import annotations

import pytest

from cds_service.pathways.brain_atoms import add_months
from .brain_support import NOW, finding, make, rules

NEURO, ORGAN, RESTRAINT = "BM-MDO-NEURO", "BM-MDO-ORGAN", "BM-RESTRAINT"
SRS, WBRT, RESECTION, SYSTEMIC = "BM-TX-SRS", "BM-TX-WBRT", "BM-TX-RESECTION", "BM-TX-SYSTEMIC"
RPA, INFO, REFERRAL, RECUR = "PROG-RPA", "BM-MDO-INFO-MISSING", "BM-NEURO-REFERRAL", "BM-RECURRENCE-MDO"
PALLIATIVE, POSTOP_SRS, WAITSCAN = "BM-PALLIATIVE", "BM-POSTOP-SRS", "BM-POSTOP-WAITSCAN"

SWITCH = dict(systemic_switch_cns_response="high")  # A4 → organ MDO, so A3 alone decides NEURO vs ORGAN
RESECTABLE = dict(disease_burden_limited=True, systemic_options_remaining=True)
SEVERAL = dict(brain_metastasis_count=2, largest_diameter_mm=12.0)

ROWS = [
    # 1a A1: "KPS ≥ 70 and expected survival > 3 months"
    ("A1 KPS 70 is enough", dict(kps=70), {NEURO, SRS, RPA}),
    ("A1 KPS 69 → restraint", dict(kps=69), {RESTRAINT, RPA}),
    ("A1 survival exactly 3 months → restraint", dict(expected_survival_months=3.0), {RESTRAINT, RPA}),
    ("A1 survival 3.1 months", dict(expected_survival_months=3.1), {NEURO, SRS, RPA}),
    # 1a A2 / A3: critical location; "diameter > 10 mm"
    ("A2 critical location → neuro MDO", dict(critical_location=True, **SWITCH), {NEURO, SRS, RPA}),
    ("A3 diameter exactly 10 mm → A4 (organ MDO)", dict(largest_diameter_mm=10.0, **SWITCH), {ORGAN, SRS, RPA}),
    ("A3 diameter 10.1 mm → neuro MDO", dict(largest_diameter_mm=10.1, **SWITCH), {NEURO, SRS, RPA}),
    ("A4 no switch option → neuro MDO (note 5)", dict(), {NEURO, SRS, RPA}),
    # 1b: symptomatic S1–S3, neurology referral unless neurology involved
    ("S1 KPS ≥ 70 on dexamethasone → neuro MDO + referral", dict(bm_symptomatic=True, kps_on_dexamethasone=True),
     {NEURO, REFERRAL, SRS, RPA}),
    ("S1 already under neurology → no referral", dict(bm_symptomatic=True, neurology_involved=True),
     {NEURO, SRS, RPA}),
    ("S2 rapid improvement, mass effect → neuro MDO + resection exception",
     dict(bm_symptomatic=True, kps=60, rapid_kps_improvement_possible=True, mass_effect=True),
     {NEURO, REFERRAL, RESECTION, RPA}),
    ("S3 QoL benefit → neuro MDO, no local TX at KPS < 70",
     dict(bm_symptomatic=True, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=True),
     {NEURO, REFERRAL, RPA}),
    ("S3 no → restraint (best supportive care)",
     dict(bm_symptomatic=True, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=False),
     {RESTRAINT, REFERRAL, RPA}),
    # Conventions: no treatment wish → BM-RESTRAINT only (no MDO, treatment or referral cards)
    ("no treatment wish, symptomatic, driver", dict(treatment_wish=False, bm_symptomatic=True,
                                                    primary_tumour="nsclc", driver_alteration=True),
     {RESTRAINT, RPA}),
    # 1c: systemic at any KPS
    ("systemic NSCLC driver at KPS 50", dict(kps=50, primary_tumour="nsclc", driver_alteration=True),
     {RESTRAINT, SYSTEMIC, RPA}),
    ("systemic melanoma BRAF at KPS 50", dict(kps=50, primary_tumour="melanoma", driver_positive=frozenset({"BRAF"})),
     {RESTRAINT, SYSTEMIC, RPA}),
    # 1c: resection "exactly 1 metastasis ≥ 25 mm …"
    ("resection at exactly 25 mm", dict(largest_diameter_mm=25.0, **RESECTABLE), {NEURO, RESECTION, SRS, RPA}),
    ("no resection at 24.9 mm", dict(largest_diameter_mm=24.9, **RESECTABLE), {NEURO, SRS, RPA}),
    ("resection: survival exactly 6 months is favourable",
     dict(largest_diameter_mm=25.0, expected_survival_months=6.0, **RESECTABLE), {NEURO, RESECTION, SRS, RPA}),
    # 1c: SRS "≤ 10 metastases, total ≤ 30 cm³, every metastasis ≤ 20 cm³"; else WBRT
    ("SRS at the limits 10 / 30 / 20", dict(SEVERAL, brain_metastasis_count=10, total_volume_cm3=30.0,
                                            largest_volume_cm3=20.0), {NEURO, SRS, RPA}),
    ("11 metastases → WBRT", dict(SEVERAL, brain_metastasis_count=11, total_volume_cm3=5.0, largest_volume_cm3=1.0),
     {NEURO, WBRT, RPA}),
    ("total 30.1 cm³ → WBRT", dict(SEVERAL, total_volume_cm3=30.1, largest_volume_cm3=20.0), {NEURO, WBRT, RPA}),
    ("one metastasis 20.1 cm³ → WBRT", dict(SEVERAL, total_volume_cm3=25.0, largest_volume_cm3=20.1),
     {NEURO, WBRT, RPA}),
    ("not SRS-eligible but effective systemic therapy → no WBRT",
     dict(SEVERAL, brain_metastasis_count=11, total_volume_cm3=5.0, largest_volume_cm3=1.0, primary_tumour="nsclc",
          driver_alteration=True), {NEURO, SYSTEMIC, RPA}),
    # 1c: palliative "expected survival not > 12 months"
    ("palliative at exactly 12 months", dict(palliative_care_involved=False, expected_survival_months=12.0),
     {NEURO, SRS, RPA, PALLIATIVE}),
    ("no palliative at 12.1 months", dict(palliative_care_involved=False, expected_survival_months=12.1),
     {NEURO, SRS, RPA}),
    # 1d: post-operative "tumour ≥ 25 mm" vs "< 25 mm"
    ("complete resection of 25 mm → post-op SRS", dict(resection_done=True, resection_extent="complete",
                                                       resected_tumour_diameter_mm=25.0), {NEURO, SRS, RPA, POSTOP_SRS}),
    ("complete resection of 24.9 mm → wait-and-scan", dict(resection_done=True, resection_extent="complete",
                                                           resected_tumour_diameter_mm=24.9),
     {NEURO, SRS, RPA, WAITSCAN}),
    ("incomplete resection → post-op SRS", dict(resection_done=True, resection_extent="incomplete"),
     {NEURO, SRS, RPA, POSTOP_SRS}),
    # 1f: "whenever an MDO card fires" — also when the MDO card says the MDO was held
    ("MDO card + information missing", dict(anticoagulation=None), {NEURO, SRS, RPA, INFO}),
    ("MDO held + information missing", dict(mdo_discussed=True, anticoagulation=None), {NEURO, RPA, INFO}),
    ("restraint: no MDO card, no information card", dict(kps=60, anticoagulation=None), {RESTRAINT, RPA}),
    ("radionecrosis (MDO outside the triage) + information missing",
     dict(radionecrosis_suspected=True, anticoagulation=None), {RECUR, RPA, INFO}),
]


@pytest.mark.parametrize("overrides, expected", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_catalog_boundary(overrides, expected):
    assert rules(make(**overrides)) == expected


@pytest.mark.parametrize("overrides", [r[1] for r in ROWS], ids=[r[0] for r in ROWS])
def test_restraint_and_neuro_mdo_never_together(overrides):
    assert not {RESTRAINT, NEURO} <= rules(make(**overrides))


def test_s3_neuro_mdo_is_the_qol_only_variant():
    facts = make(bm_symptomatic=True, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=True)
    assert finding(facts, NEURO).variant == "qol-only"


@pytest.mark.parametrize("age, extracranial, kps, expected_class", [
    (64, "none", 70, 1),  # KPS ≥ 70, age < 65, no extracranial disease
    (65, "none", 70, 2),  # age 65 is not < 65
    (64, "stable", 70, 2),
    (64, "none", 69, 3),  # KPS < 70
])
def test_rpa_class_boundaries(age, extracranial, kps, expected_class):
    facts = make(age_years=age, extracranial_disease_status=extracranial,
                 extracranial_metastases=extracranial != "none", kps=kps)
    assert finding(facts, RPA).params["rpa_class"] == expected_class


# 1e: after SRS / resection every 4 months in the first 2 years, then every 6; on systemic therapy 4; never after WBRT
@pytest.mark.parametrize("focal_months_ago, mri_months_ago, systemic, wbrt, expected_interval", [
    (12, 4, False, False, None),  # exactly 4 months old: not older than the interval
    (12, 5, False, False, 4),
    (30, 6, False, False, None),  # beyond 2 years: every 6 months
    (30, 7, False, False, 6),
    (None, 4, True, False, None),
    (None, 5, True, False, 4),
    (12, 8, False, True, None),  # after WBRT: never
    (None, 8, True, True, None),
])
def test_followup_mri_intervals(focal_months_ago, mri_months_ago, systemic, wbrt, expected_interval):
    overrides = dict(last_brain_mri_date=add_months(NOW, -mri_months_ago), systemic_therapy_active=systemic,
                     wbrt_done=wbrt)
    if focal_months_ago is not None:
        overrides["focal_treatment_date"] = add_months(NOW, -focal_months_ago)
    facts = make(**overrides)
    if expected_interval is None:
        assert "BM-FOLLOWUP-MRI" not in rules(facts)
    else:
        assert finding(facts, "BM-FOLLOWUP-MRI").params["interval_months"] == expected_interval
