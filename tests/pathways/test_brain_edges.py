"""Thresholds on both sides, exactly as the catalog writes them (≥ vs >)."""

from __future__ import annotations

import pytest

from .brain_support import make, rules, run, survival_category

RPA = "PROG-RPA"
NEURO, ORGAN, RESTRAINT = "BM-MDO-NEURO", "BM-MDO-ORGAN", "BM-RESTRAINT"
SRS, WBRT, RESECTION = "BM-TX-SRS", "BM-TX-WBRT", "BM-TX-RESECTION"
FAVOURABLE = dict(largest_diameter_mm=30.0, total_volume_cm3=14.0, largest_volume_cm3=14.0,
                  disease_burden_limited=True, systemic_options_remaining=True)


@pytest.mark.parametrize("kps, expected", [(69, {RESTRAINT, RPA}), (70, {NEURO, SRS, RPA})])
def test_kps_69_70_asymptomatic(kps, expected):
    assert rules(make(kps=kps)) == expected


@pytest.mark.parametrize("kps, expected", [
    (69, {RESTRAINT, "BM-NEURO-REFERRAL", RPA}),
    (70, {NEURO, "BM-NEURO-REFERRAL", SRS, RPA}),
])
def test_kps_69_70_symptomatic(kps, expected):
    assert rules(make(kps=kps, bm_symptomatic=True, rapid_kps_improvement_possible=False,
                      local_treatment_qol_benefit=False)) == expected


@pytest.mark.parametrize("kps, rpa_class", [(69, 3), (70, 2)])
def test_kps_69_70_rpa(kps, rpa_class):
    (f,) = [f for f in run(make(kps=kps)) if f.rule_id == RPA]
    assert f.params["rpa_class"] == rpa_class


@pytest.mark.parametrize("survival, expected", [
    (3.0, {RESTRAINT, RPA}),  # "> 3 months": exactly 3 is not enough
    (3.1, {NEURO, SRS, RPA}),
])
def test_prognosis_exactly_3_months(survival, expected):
    assert rules(make(expected_survival_months=survival)) == expected


@pytest.mark.parametrize("category, expected", [
    ("lt-2-weeks", {RESTRAINT, RPA}),
    ("lt-3-months", {RESTRAINT, RPA}),
    ("3-6-months", {NEURO, SRS, RPA}),  # read as "more than 3, less than 6 months"
    ("6-12-months", {NEURO, SRS, RPA}),
    ("gt-12-months", {NEURO, SRS, RPA}),
])
def test_prognosis_category_against_3_months(category, expected):
    assert rules(make(survival_category(category))) == expected


@pytest.mark.parametrize("survival, expected", [
    (5.9, {NEURO, SRS, RPA}),
    (6.0, {NEURO, RESECTION, SRS, RPA}),  # favourable prognosis: ≥ 6 months
])
def test_resection_favourable_prognosis_6_months(survival, expected):
    assert rules(make(**FAVOURABLE, expected_survival_months=survival)) == expected


@pytest.mark.parametrize("category, expected", [
    ("3-6-months", {NEURO, SRS, RPA}),
    ("6-12-months", {NEURO, RESECTION, SRS, RPA}),
])
def test_resection_prognosis_category(category, expected):
    assert rules(make(survival_category(category), **FAVOURABLE)) == expected


@pytest.mark.parametrize("diameter, expected", [
    (10.0, {ORGAN, SRS, RPA}),  # A3: "> 10 mm" — 10 mm goes on to A4 (switch option: organ MDO)
    (11.0, {NEURO, SRS, RPA}),
])
def test_diameter_10_11(diameter, expected):
    assert rules(make(largest_diameter_mm=diameter, systemic_switch_cns_response="high")) == expected


@pytest.mark.parametrize("diameter, expected", [
    (24.0, {NEURO, SRS, RPA}),
    (25.0, {NEURO, RESECTION, SRS, RPA}),  # "≥ 2,5 cm"
])
def test_diameter_24_25_resection(diameter, expected):
    assert rules(make(**{**FAVOURABLE, "largest_diameter_mm": diameter})) == expected


@pytest.mark.parametrize("diameter, expected", [
    (24.0, {NEURO, SRS, RPA}),
    (25.0, {NEURO, RESECTION, SRS, RPA}),
])
def test_diameter_24_25_dominant_lesion(diameter, expected):
    assert rules(make(brain_metastasis_count=4, largest_diameter_mm=diameter, total_volume_cm3=12.0,
                      largest_volume_cm3=8.0, dominant_lesion_accessible=True)) == expected


@pytest.mark.parametrize("count, expected", [
    (10, {NEURO, SRS, RPA}),  # "≤ 10 metastases"
    (11, {NEURO, WBRT, RPA}),
])
def test_count_10_11(count, expected):
    assert rules(make(brain_metastasis_count=count, total_volume_cm3=5.0, largest_volume_cm3=1.0)) == expected


@pytest.mark.parametrize("total, expected", [
    (30.0, {NEURO, SRS, RPA}),  # "total volume ≤ 30 cm³"
    (30.1, {NEURO, WBRT, RPA}),
])
def test_total_volume_30(total, expected):
    assert rules(make(brain_metastasis_count=4, largest_diameter_mm=20.0, total_volume_cm3=total,
                      largest_volume_cm3=12.0, dominant_lesion_accessible=False)) == expected


@pytest.mark.parametrize("largest, expected", [
    (20.0, {NEURO, SRS, RPA}),  # "every metastasis ≤ 20 cm³"
    (20.1, {NEURO, WBRT, RPA}),
])
def test_individual_volume_20(largest, expected):
    assert rules(make(brain_metastasis_count=2, largest_diameter_mm=22.0, total_volume_cm3=25.0,
                      largest_volume_cm3=largest, dominant_lesion_accessible=False)) == expected


@pytest.mark.parametrize("total, expected", [
    (20.0, {NEURO, SRS, RPA}),  # a total ≤ 20 cm³ implies every metastasis ≤ 20 cm³
    (20.1, {NEURO, "DATA-MISSING", RPA}),  # total > 20 with two lesions: the largest is unknown
])
def test_individual_volume_from_total(total, expected):
    assert rules(make(brain_metastasis_count=2, largest_diameter_mm=22.0, total_volume_cm3=total,
                      largest_volume_cm3=None, dominant_lesion_accessible=False)) == expected


@pytest.mark.parametrize("age, rpa_class", [(64, 1), (65, 2)])
def test_rpa_age_65(age, rpa_class):
    (f,) = [f for f in run(make(age_years=age, extracranial_disease_status="none")) if f.rule_id == RPA]
    assert (f.variant, f.params["median_months"]) == (f"class-{rpa_class}", {1: 7.1, 2: 4.2}[rpa_class])
