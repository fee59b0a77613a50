"""Catalog audit (§3 spinal metastases, §4 leptomeningeal metastases, PROG-SINS): one row per stated
condition, threshold or exception, pinning the behaviour the catalog's words ask for."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cds_service.pathways import leptomeningeal, spine
from .spine_support import CTX, NOW, OLD, ago, patient

RECENT = dict(onset=ago(hours=3), recorded=ago(hours=2))  # presentation recorded 2 h ago
ALL_SINS = dict(location=3, pain=3, bone_lesion=2, alignment=2, collapse=3, posterolateral=0)  # 13


def run(**values: Any) -> dict[str, Any]:
    return {f.rule_id: f for f in spine.evaluate(patient(**values), CTX)}


# -- 3a red flags and routing; PROG-SINS bands -------------------------------------------------------

ROUTING = [
    # (case, facts, rule ids that must fire, rule ids that must not fire)
    ("asymptomatic-no-sre", {}, {"SM-ASYMPTOMATIC-SRE", "SM-NO-LOCAL-TX", "SM-TEAM"}, {"SM-RED-FLAG"}),
    ("bladder-bowel-is-deficit", dict(bladder_bowel_dysfunction=True), {"SM-RED-FLAG"}, set()),
    ("bilsky-3", dict(mescc=None, escc_grade="3"), {"SM-RED-FLAG"}, set()),
    ("bilsky-2", dict(mescc=None, escc_grade="2"), {"SM-RED-FLAG"}, set()),
    ("bilsky-1c", dict(mescc=None, escc_grade="1c"), set(), {"SM-RED-FLAG"}),
    ("radiological-mescc", dict(mescc="radiological"), {"SM-RED-FLAG"}, {"SM-ASYMPTOMATIC-SRE"}),
    ("sins-13-red-flag", dict(sins_total=13), {"SM-RED-FLAG", "SM-SPINE-SURGEON"}, set()),
    ("sins-12-no-red-flag", dict(sins_total=12), {"SM-SPINE-SURGEON"}, {"SM-RED-FLAG"}),
    ("sins-7-spine-surgeon", dict(sins_total=7), {"SM-SPINE-SURGEON"}, {"SM-RED-FLAG"}),
    ("sins-6-no-surgeon", dict(sins_total=6), set(), {"SM-SPINE-SURGEON"}),
    ("sins-components-13", dict(sins_total=None, sins_components=ALL_SINS), {"SM-RED-FLAG"}, set()),
    ("mechanical-pain", dict(mechanical_pain=True), {"SM-SPINE-SURGEON"}, set()),
    ("instability-recorded", dict(spinal_instability=True), {"SM-SPINE-SURGEON", "SM-SURGERY"}, set()),
    ("pain-no-red-flag", dict(local_back_pain=(True, OLD)), {"SM-PAIN"}, {"SM-RED-FLAG"}),
    ("pain-with-red-flag", dict(local_back_pain=(True, OLD), mescc="radiological"), {"SM-RED-FLAG"}, {"SM-PAIN"}),
    ("sre-risk", dict(sre_risk=True), {"SM-ASYMPTOMATIC-SRE"}, {"SM-NO-LOCAL-TX"}),
    # SM-SHORT-LIFE suppresses the routing but not the red flag
    ("two-weeks", dict(expected_survival_months=2 / 4.345, local_back_pain=(True, OLD), sins_total=14),
     {"SM-SHORT-LIFE", "SM-RED-FLAG"}, {"SM-SPINE-SURGEON", "SM-PAIN", "SM-SURGERY", "SM-ASYMPTOMATIC-SRE"}),
    ("no-wish", dict(treatment_wish=False, sins_total=14, spinal_instability=True),
     {"SM-SHORT-LIFE", "SM-RED-FLAG"}, {"SM-SPINE-SURGEON", "SM-PAIN", "SM-SURGERY", "SM-ASYMPTOMATIC-SRE"}),
    ("three-weeks-is-not-short", dict(expected_survival_months=3 / 4.345, local_back_pain=(True, OLD)),
     {"SM-PAIN"}, {"SM-SHORT-LIFE"}),
]


@pytest.mark.parametrize("case, values, fires, silent", ROUTING, ids=[c[0] for c in ROUTING])
def test_routing_follows_catalog_3a(case: str, values: dict, fires: set, silent: set) -> None:
    found = set(run(**values))
    assert fires <= found, f"missing {fires - found}"
    assert not (silent & found), f"unexpected {silent & found}"


@pytest.mark.parametrize("values, variant", [
    (dict(mescc=("clinical", dict(onset=ago(days=2)))), "immediately"),
    (dict(radicular_deficit=("unilateral", dict(onset=ago(days=2))), sins_total=13), "immediately"),
    (dict(mescc="radiological"), "asap"),
    (dict(sins_total=13), "asap"),
])
def test_red_flag_urgency(values: dict, variant: str) -> None:
    flag = run(**values)["SM-RED-FLAG"]
    assert (flag.indicator, flag.variant) == ("critical", variant)


@pytest.mark.parametrize("total, band", [(0, "stable"), (6, "stable"), (7, "potentially-unstable"),
                                         (12, "potentially-unstable"), (13, "unstable"), (18, "unstable")])
def test_sins_bands(total: int, band: str) -> None:
    assert run(sins_total=total)["PROG-SINS"].variant == band


# -- 3b MRI urgency ----------------------------------------------------------------------------------------

MRI = [
    ("incomplete-lesion", dict(transverse_lesion=("incomplete", RECENT)), timedelta(hours=10)),
    ("complete-lesion-30h", dict(transverse_lesion=("complete", dict(onset=ago(hours=30), recorded=ago(hours=2)))),
     timedelta(hours=10)),
    ("bilateral-deficit", dict(radicular_deficit=("bilateral", RECENT)), timedelta(hours=10)),
    ("lhermitte", dict(lhermitte_sign=(True, RECENT)), timedelta(hours=10)),
    ("bilateral-pain", dict(radicular_pain=("bilateral", RECENT)), timedelta(hours=10)),
    ("unilateral-deficit-7-days", dict(radicular_deficit=("unilateral", dict(
        onset=ago(days=7, hours=2), recorded=ago(hours=2), progressive=True))), timedelta(hours=22)),
    ("unilateral-deficit-10-days", dict(radicular_deficit=("unilateral", dict(
        onset=ago(days=10), recorded=ago(hours=2), progressive=True))), timedelta(hours=46)),
    ("unilateral-pain", dict(radicular_pain=("unilateral", RECENT)), timedelta(days=7, hours=-2)),
    ("local-back-pain", dict(local_back_pain=(True, RECENT)), timedelta(days=14, hours=-2)),
]


@pytest.mark.parametrize("case, values, left", MRI, ids=[c[0] for c in MRI])
def test_mri_window_runs_from_recorded_time(case: str, values: dict, left: timedelta) -> None:
    card = run(spine_imaging_date=ago(days=40), **values)["SM-MRI-URGENCY"]
    assert (card.indicator, card.params["deadline"] - NOW) == ("warning", left)


def test_mri_complete_lesion_over_48h_no_urgent_imaging() -> None:
    card = run(transverse_lesion=("complete", dict(onset=ago(hours=60), recorded=ago(hours=2))))["SM-MRI-URGENCY"]
    assert (card.variant, card.indicator) == ("no-urgent", "info")


def test_mri_passed_deadline_is_critical() -> None:
    card = run(spine_imaging_date=ago(days=40),
               local_back_pain=(True, dict(onset=ago(days=20), recorded=ago(days=15))))["SM-MRI-URGENCY"]
    assert (card.variant, card.indicator) == ("passed", "critical")


@pytest.mark.parametrize("imaged, variant", [(ago(hours=1), "not-necessary"), (ago(days=1), None)])
def test_mri_adequate_imaging_from_the_day_the_presentation_began(imaged, variant) -> None:
    card = run(local_back_pain=(True, RECENT), spine_imaging_date=imaged)["SM-MRI-URGENCY"]
    assert card.variant == variant


# -- 3c / 3d ---------------------------------------------------------------------------------------------

CLINICAL = ("clinical", dict(onset=ago(days=2), recorded=ago(hours=1)))
SURGERY_OK = dict(mescc=CLINICAL, deficit_progressive=True, compression_levels=3, surgery_possible_24h=True,
                  condition_allows_surgery=True, dexamethasone_active=True)


@pytest.mark.parametrize("values, fires", [
    (dict(mescc=CLINICAL), True),
    (dict(mescc=CLINICAL, dexamethasone_active=True), False),
    (dict(mescc="radiological"), False),  # asymptomatic: no corticosteroids
])
def test_dexamethasone(values: dict, fires: bool) -> None:
    assert ("SM-DEXAMETHASONE" in run(**values)) is fires


def test_dexamethasone_waits_for_biopsy_with_unknown_primary() -> None:
    found = run(mescc=CLINICAL, primary_tumour="unknown")
    assert found["SM-DEXAMETHASONE"].variant == "unknown-primary"
    assert found["SM-BIOPSY"].variant.startswith("urgent")


@pytest.mark.parametrize("values, start, window", [
    # catalog §3c (corrected): the clock runs from the definitive diagnosis (2 h ago) only, never from the moment
    # the presentation was recorded (1 h ago)
    (dict(mescc=("clinical", dict(onset=ago(days=3), recorded=ago(hours=1)))), ago(hours=2), timedelta(hours=24)),
    (dict(mescc=("clinical", dict(onset=ago(days=10), recorded=ago(hours=1)))), ago(hours=2), timedelta(hours=72)),
    (dict(mescc="radiological"), ago(hours=2), timedelta(days=7)),
    (dict(local_back_pain=(True, OLD)), ago(hours=2), timedelta(days=14)),
])
def test_treatment_timeline_windows(values: dict, start, window: timedelta) -> None:
    card = run(definitive_diagnosis_date=ago(hours=2), **values)["SM-TREATMENT-TIMELINE"]
    assert card.params["deadline"] - start == window


@pytest.mark.parametrize("changes, variant", [
    ({}, "combined"),
    (dict(expected_survival_months=5.0), "no-combined"),
    (dict(expected_survival_months=3.0), None),  # > 3 months, exclusive
    (dict(compression_levels=4), None),
    (dict(surgery_possible_24h=False), None),
    (dict(radiosensitive_tumour=True), None),
])
def test_surgery(changes: dict, variant: str | None) -> None:
    card = run(**{**SURGERY_OK, **changes}).get("SM-SURGERY")
    assert (card.variant if card else None) == variant


@pytest.mark.parametrize("values, variant", [
    (dict(expected_survival_months=2.0, rt_response_expected=True), "lt3"),
    (dict(), "no-deficit"),
    (dict(oligometastases=True), "no-deficit-oligo"),
    (dict(postop_neuro_recovery="insufficient", oligometastases=True, expected_survival_months=13.0), "postop-oligo"),
])
def test_rt_schedule(values: dict, variant: str) -> None:
    assert run(local_back_pain=(True, OLD), **values)["SM-RT-SCHEDULE"].variant == variant


@pytest.mark.parametrize("values, variant", [
    (dict(local_back_pain=(True, OLD), expected_survival_months=2.0, rt_response_expected=False),
     "short-life-no-response"),
    (dict(transverse_lesion=("complete", OLD), transverse_lesion_irreversible=True, pain_severity="moderate",
          dexamethasone_active=True), "irreversible-lesion"),
    (dict(), "asymptomatic"),
    (dict(sre_risk=None), None),  # every fact on the reassuring path must be known
    (dict(neuro_deficit_expected_soon=None), None),
    (dict(sins_total=None), None),
    (dict(mescc=None), None),
])
def test_no_local_treatment_needs_known_facts(values: dict, variant: str | None) -> None:
    card = run(**values).get("SM-NO-LOCAL-TX")
    assert (card.variant if card else None) == variant


# -- §4 leptomeningeal metastases ---------------------------------------------------------------------------

S = frozenset
LM = [
    ("suspect", dict(lm_symptoms=S({"ataxia"})), ["LM-SUSPECT"]),
    ("one-negative", dict(lm_symptoms=S({"ataxia"}), csf_cytology_results=("negative",)),
     ["LM-SUSPECT", "LM-REPEAT-CSF"]),
    ("two-negatives", dict(lm_symptoms=S({"ataxia"}), csf_cytology_results=("negative", "negative")),
     ["LM-SUSPECT"]),
    ("no-symptoms", dict(), []),
    ("confirmed-vomiting", dict(leptomeningeal_metastases="confirmed", lm_symptoms=S({"nausea-vomiting"})),
     ["LM-TREATMENT", "LM-SYMPTOMS"]),
    ("confirmed-ataxia", dict(leptomeningeal_metastases="confirmed", lm_symptoms=S({"ataxia"})),
     ["LM-TREATMENT"]),
    ("positive-cytology", dict(lm_symptoms=S({"confusion"}), csf_cytology_results=("positive",)),
     ["LM-TREATMENT", "LM-SYMPTOMS"]),
]


@pytest.mark.parametrize("case, values, expected", LM, ids=[c[0] for c in LM])
def test_leptomeningeal(case: str, values: dict, expected: list[str]) -> None:
    from cds_service.facts.model import Facts

    base = dict(solid_cancer=True, primary_tumour="breast", leptomeningeal_metastases="none", lm_symptoms=S(),
                csf_cytology_results=())
    facts = Facts.from_values(now=NOW, **{**base, **values})
    assert [f.rule_id for f in leptomeningeal.evaluate(facts, CTX)] == expected
