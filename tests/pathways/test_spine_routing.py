"""Catalog 3a (seed 004): red flags, very short life / no treatment wish, spine surgeon, pain,
asymptomatic with or without SRE risk, team — and their precedence."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.facts.model import Fact, Facts
from cds_service.pathways import spine

from .spine_support import BASE, CTX, NOW, OLD, ago, at, patient  # noqa: F401

TWO_WEEKS = 2 / 4.345  # months, as the facts layer converts weeks


def run(**values: Any):
    return spine.evaluate(patient(**values), CTX)


def ids(findings) -> list[str]:
    return sorted(f.rule_id for f in findings)


def one(findings, rule_id: str):
    [finding] = [f for f in findings if f.rule_id == rule_id]
    return finding


ASYMPTOMATIC = ["PROG-SINS", "SM-ASYMPTOMATIC-SRE", "SM-NO-LOCAL-TX", "SM-TEAM"]
PAIN_ONLY = ["PROG-SINS", "SM-MRI-URGENCY", "SM-PAIN", "SM-RT-SCHEDULE", "SM-TEAM", "SM-TREATMENT-TIMELINE"]

CASES = [
    # -- asymptomatic (A5)
    ("asymptomatic without SRE risk", {}, ASYMPTOMATIC),
    ("asymptomatic with SRE risk", dict(sre_risk=True), ["PROG-SINS", "SM-ASYMPTOMATIC-SRE", "SM-TEAM"]),
    ("asymptomatic, SRE risk unknown", dict(sre_risk=None), ["DATA-MISSING", "PROG-SINS", "SM-TEAM"]),
    ("asymptomatic, deficit expected soon", dict(neuro_deficit_expected_soon=True),
     ["PROG-SINS", "SM-ASYMPTOMATIC-SRE", "SM-TEAM"]),
    ("asymptomatic, deficit expectation unknown", dict(neuro_deficit_expected_soon=None),
     ["DATA-MISSING", "PROG-SINS", "SM-ASYMPTOMATIC-SRE", "SM-TEAM"]),
    ("no symptoms recorded at all is asymptomatic", dict(), ASYMPTOMATIC),
    # -- pain (A4)
    ("local back pain", dict(local_back_pain=at(True, **OLD)), PAIN_ONLY),
    ("unilateral radicular pain", dict(radicular_pain=at("unilateral", **OLD)), PAIN_ONLY),
    ("pain severity moderate", dict(pain_severity="moderate"), [p for p in PAIN_ONLY if p != "SM-MRI-URGENCY"]),
    # -- spine surgeon (A3)
    ("pain on loading", dict(mechanical_pain=at(True, **OLD)),
     ["PROG-SINS", "SM-MRI-URGENCY", "SM-RT-SCHEDULE", "SM-SPINE-SURGEON", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    ("instability recorded (asymptomatic)", dict(spinal_instability=True),
     ["PROG-SINS", "SM-SPINE-SURGEON", "SM-SURGERY", "SM-TEAM"]),
    ("instability with SRE risk", dict(spinal_instability=True, sre_risk=True),
     ["PROG-SINS", "SM-ASYMPTOMATIC-SRE", "SM-SPINE-SURGEON", "SM-SURGERY", "SM-TEAM"]),
    ("SINS 6: stable", dict(sins_total=6), ASYMPTOMATIC),
    ("SINS 7: potentially unstable", dict(sins_total=7), ["PROG-SINS", "SM-SPINE-SURGEON", "SM-TEAM"]),
    ("SINS 12: potentially unstable, no red flag", dict(sins_total=12), ["PROG-SINS", "SM-SPINE-SURGEON", "SM-TEAM"]),
    ("SINS 13: unstable, red flag", dict(sins_total=13),
     ["PROG-SINS", "SM-RED-FLAG", "SM-SPINE-SURGEON", "SM-SURGERY", "SM-TEAM"]),
    ("SINS from partial components ≥ 7",
     dict(sins_total=None, sins_components={"location": 3, "pain": 3, "bone_lesion": 2}),
     ["DATA-MISSING", "SM-SPINE-SURGEON", "SM-TEAM"]),
    ("SINS unknown", dict(sins_total=None), ["DATA-MISSING", "SM-TEAM"]),
    # -- red flags (R)
    ("red flag: new neurological deficit", dict(neurological_deficit=True, deficit_progressive=False),
     ["PROG-SINS", "SM-DEXAMETHASONE", "SM-RED-FLAG", "SM-RT-SCHEDULE", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    ("red flag: bladder/bowel dysfunction", dict(bladder_bowel_dysfunction=True, deficit_progressive=False),
     ["PROG-SINS", "SM-DEXAMETHASONE", "SM-RED-FLAG", "SM-RT-SCHEDULE", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    ("red flag: radiological MESCC", dict(mescc="radiological"),
     ["PROG-SINS", "SM-RED-FLAG", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    ("red flag: Bilsky 3 without MESCC recorded", dict(mescc=None, escc_grade="3"),
     ["PROG-SINS", "SM-RED-FLAG", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    ("Bilsky 1c: no compression", dict(mescc=None, escc_grade="1c"), ASYMPTOMATIC),
    ("MESCC unknown: red flag cannot be excluded", dict(mescc=None), ["DATA-MISSING", "PROG-SINS", "SM-TEAM"]),
    ("pain with MESCC unknown: no SM-PAIN", dict(mescc=None, local_back_pain=at(True, **OLD)),
     ["DATA-MISSING", "PROG-SINS", "SM-MRI-URGENCY", "SM-RT-SCHEDULE", "SM-TEAM"]),
    ("pain with a red flag: no SM-PAIN", dict(mescc="radiological", local_back_pain=at(True, **OLD)),
     ["PROG-SINS", "SM-MRI-URGENCY", "SM-RED-FLAG", "SM-RT-SCHEDULE", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    # -- very short life expectancy / no treatment wish (A1)
    ("life expectancy exactly 2 weeks", dict(expected_survival_months=TWO_WEEKS, sins_total=8,
                                             local_back_pain=at(True, **OLD), rt_response_expected=True),
     ["PROG-SINS", "SM-MRI-URGENCY", "SM-RT-SCHEDULE", "SM-SHORT-LIFE", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    ("life expectancy 3 weeks: routing applies", dict(expected_survival_months=3 / 4.345, sins_total=8,
                                                      local_back_pain=at(True, **OLD), rt_response_expected=True),
     ["PROG-SINS", "SM-MRI-URGENCY", "SM-PAIN", "SM-RT-SCHEDULE", "SM-SPINE-SURGEON", "SM-TEAM",
      "SM-TREATMENT-TIMELINE"]),
    ("life expectancy category < 2 weeks, asymptomatic",
     dict(expected_survival_months=(0.25, {"category": "lt-2-weeks"})),
     ["PROG-SINS", "SM-NO-LOCAL-TX", "SM-SHORT-LIFE", "SM-TEAM"]),
    ("short life still gets red flags", dict(expected_survival_months=0.2, mescc="radiological"),
     ["PROG-SINS", "SM-RED-FLAG", "SM-SHORT-LIFE", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    ("no treatment wish", dict(treatment_wish=False, local_back_pain=at(True, **OLD), sins_total=9),
     ["PROG-SINS", "SM-SHORT-LIFE"]),
    ("no treatment wish with a red flag", dict(treatment_wish=False, neurological_deficit=True),
     ["PROG-SINS", "SM-RED-FLAG", "SM-SHORT-LIFE"]),
    ("life expectancy unknown", dict(expected_survival_months=None, local_back_pain=at(True, **OLD), sins_total=8),
     ["DATA-MISSING", "PROG-SINS", "SM-MRI-URGENCY", "SM-TEAM", "SM-TREATMENT-TIMELINE"]),
    # -- scope
    ("spinal metastases recorded as absent", dict(spinal_metastases=False, local_back_pain=True), []),
]


@pytest.mark.parametrize("case, values, expected", CASES, ids=[c[0] for c in CASES])
def test_routing(case: str, values: dict, expected: list[str]) -> None:
    assert ids(run(**values)) == sorted(expected)


def test_red_flag_with_deficit_is_immediate_and_critical() -> None:
    card = one(run(radicular_deficit=at("unilateral", **OLD), deficit_progressive=False), "SM-RED-FLAG")
    assert (card.indicator, card.variant) == ("critical", "immediately")
    [suggestion] = card.suggestions
    assert suggestion.actions[0].resource_kind == "referral-executing-centre"
    assert suggestion.actions[0].params == {"priority": "stat"}


@pytest.mark.parametrize("values", [dict(mescc="radiological"), dict(sins_total=14)], ids=["mescc", "sins-14"])
def test_red_flag_without_deficit_is_as_soon_as_possible(values: dict) -> None:
    card = one(run(**values), "SM-RED-FLAG")
    assert (card.indicator, card.variant) == ("critical", "asap")


def test_short_life_suppresses_the_routing_but_says_why() -> None:
    card = one(run(expected_survival_months=TWO_WEEKS, sins_total=9), "SM-SHORT-LIFE")
    assert card.variant is None
    assert "≤ 2 weeks" in str(card.trace[0])
    assert card.suggestions[0].actions[0].resource_kind == "referral-radiation-oncology"


def test_no_treatment_wish_variant() -> None:
    card = one(run(treatment_wish=False), "SM-SHORT-LIFE")
    assert (card.variant, card.facts_used) == ("no-wish", ("treatment_wish",))


def test_treatment_wish_assumed_when_not_recorded() -> None:
    findings = run(treatment_wish=None, local_back_pain=at(True, **OLD))
    assert "treatment-wish-assumed" in one(findings, "SM-PAIN").notes
    assert "treatment-wish-assumed" not in one(findings, "SM-TEAM").notes


def test_survival_unknown_is_named_in_data_missing() -> None:
    missing = one(run(expected_survival_months=None), "DATA-MISSING")
    assert "expected_survival_months" in missing.facts_missing


def test_unknown_red_flag_facts_are_named() -> None:
    missing = one(run(mescc=None, sins_total=None), "DATA-MISSING")
    assert set(missing.facts_missing) >= {"mescc", "sins_total"}


def test_spine_surgeon_by_sins_cites_the_local_protocol() -> None:
    card = one(run(sins_total=7), "SM-SPINE-SURGEON")
    assert "sins-local-protocol" in card.notes and card.params["sins"] == 7
    card = one(run(mechanical_pain=at(True, **OLD)), "SM-SPINE-SURGEON")
    assert "sins-local-protocol" not in card.notes


def test_asymptomatic_variants_and_the_no_symptoms_note() -> None:
    card = one(run(), "SM-ASYMPTOMATIC-SRE")
    assert (card.variant, card.notes) == ("no-risk", ("no-symptoms-recorded",))
    card = one(run(sre_risk=True, local_back_pain=False), "SM-ASYMPTOMATIC-SRE")
    assert (card.variant, card.notes) == ("risk", ())  # symptoms recorded as absent
    assert card.suggestions[0].actions[0].resource_kind == "referral-radiation-oncology"


def test_team_names_the_neurologist_with_a_deficit() -> None:
    assert one(run(), "SM-TEAM").variant is None
    assert one(run(neurological_deficit=True), "SM-TEAM").variant == "with-neurologist"


def test_suspected_spinal_metastases_get_no_routing() -> None:
    findings = run(spinal_metastases=(True, {"suspected": True}), sins_total=14, mescc="radiological")
    assert ids(findings) == ["PROG-SINS"]


def test_spine_complaints_without_a_spinal_metastasis_record_ask_for_it() -> None:
    [finding] = run(spinal_metastases=None, local_back_pain=True)
    assert (finding.rule_id, finding.facts_missing) == ("DATA-MISSING", ("spinal_metastases",))
    assert ids(run(spinal_metastases=None)) == ["DATA-MISSING"]  # a recorded SINS is a spine finding too
    assert spine.evaluate(Facts(values={"primary_tumour": Fact.of("primary_tumour", "breast")}), CTX) == []
