"""Unknown facts (catalog "Conventions"): follow both branches; same card → fire it and say the fact did not
matter; different → DATA-MISSING naming the fact plus only what both branches share."""

from __future__ import annotations

import pytest

from cds_service.facts.model import Fact, FactStatus
from cds_service.facts.model import Facts
from cds_service.pathways.brain_walk import All, AnyOf, Atom, Not, Walk, combine, explore, leaves
from cds_service.pathways.model import Finding

from .brain_support import NOW, ago, fact, finding, make, rules, run

RPA, NEURO, ORGAN, RESTRAINT, SRS = "PROG-RPA", "BM-MDO-NEURO", "BM-MDO-ORGAN", "BM-RESTRAINT", "BM-TX-SRS"
DM, INFO = "DATA-MISSING", "BM-MDO-INFO-MISSING"

CASES = [
    # (title, overrides, exact rules, facts DATA-MISSING names (None = no DATA-MISSING), unknown-ok notes on card)
    ("survival unknown, KPS 80: A1 differs", dict(expected_survival_months=None), {RPA, DM},
     ("expected_survival_months",), None),
    ("survival unknown, KPS 60: restraint either way", dict(expected_survival_months=None, kps=60), {RESTRAINT, RPA},
     None, (RESTRAINT, ("unknown-ok:expected_survival_months",))),
    ("KPS unknown asymptomatic: A1 differs", dict(kps=None), {DM}, ("kps",), None),
    ("critical location unknown, diameter 15 mm: MDO either way",
     dict(critical_location=None, largest_diameter_mm=15.0),
     {NEURO, SRS, RPA, INFO}, None, (NEURO, ("unknown-ok:critical_location",))),
    ("critical location unknown, small, switch option: organ vs neuro MDO",
     dict(critical_location=None, systemic_switch_cns_response="high"), {"BM-TX-SRS", RPA, DM}, ("critical_location",),
     None),
    ("critical location unknown, small, no switch option: MDO either way", dict(critical_location=None),
     {NEURO, SRS, RPA, INFO}, None, (NEURO, ("unknown-ok:critical_location",))),
    ("diameter unknown, critical location: MDO (A2 decides first)",
     dict(largest_diameter_mm=None, critical_location=True), {NEURO, SRS, RPA, INFO, DM},
     ("largest_diameter_mm", "disease_burden_limited", "systemic_options_remaining"), (NEURO, ())),
    ("diameter unknown, switch option: organ vs neuro MDO", dict(largest_diameter_mm=None,
                                                                  systemic_switch_cns_response="high"),
     {"BM-TX-SRS", RPA, DM}, ("largest_diameter_mm", "disease_burden_limited", "systemic_options_remaining"), None),
    ("switch option unknown: organ vs neuro MDO", dict(systemic_switch_cns_response=None), {"BM-TX-SRS", RPA, DM},
     ("systemic_switch_cns_response",), None),
    ("symptomatic unknown, KPS 60, no options: restraint either way",
     dict(bm_symptomatic=None, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=False),
     {RESTRAINT, RPA, DM}, ("bm_symptomatic",), (RESTRAINT, ("unknown-ok:bm_symptomatic",))),
    ("KPS unknown symptomatic, rapid improvement: MDO either way, TX differs",
     dict(bm_symptomatic=True, kps=None, rapid_kps_improvement_possible=True, mass_effect=False,
          posterior_fossa=False, hydrocephalus=False, neurology_involved=True),
     {NEURO, INFO, DM}, ("kps",), (NEURO, ("unknown-ok:kps",))),
    ("count unknown: SRS differs", dict(brain_metastasis_count=None), {NEURO, RPA, INFO, DM},
     ("brain_metastasis_count",), None),
    ("volume only estimated: SRS differs",
     dict(total_volume_cm3=None, largest_volume_cm3=None), {NEURO, RPA, DM},
     ("total_volume_cm3", "largest_volume_cm3"), None),
    ("KPS unknown, survival ≤ 3: restraint either way, RPA differs", dict(kps=None, expected_survival_months=2.0),
     {RESTRAINT, DM}, ("kps",), (RESTRAINT, ("unknown-ok:kps",))),
    ("RPA: age < 65, extracranial status unknown", dict(age_years=60, extracranial_disease_status=None,
                                                         extracranial_metastases=None), {NEURO, SRS, INFO, DM},
     ("extracranial_disease_status",), None),
    ("RPA: age ≥ 65, extracranial status unknown: class 2 either way",
     dict(extracranial_disease_status=None, extracranial_metastases=None), {NEURO, SRS, RPA, INFO}, None,
     (RPA, ("unknown-ok:extracranial_disease_status",))),
    ("primary unknown: systemic therapy differs", dict(primary_tumour=None, driver_alteration=None),
     {NEURO, SRS, RPA, DM, INFO}, ("primary_tumour", "driver_alteration", "driver_positive"), None),
]


@pytest.mark.parametrize("overrides, expected, missing, noted", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unknown_branches(overrides, expected, missing, noted):
    facts = make(**overrides)
    assert rules(facts) == expected
    if missing is None:
        assert DM not in expected
    else:
        assert set(finding(facts, DM).facts_missing) == set(missing)
    if noted:
        rule_id, notes = noted
        f = finding(facts, rule_id)
        assert tuple(n for n in f.notes if n.startswith("unknown-ok:")) == notes
        for note in notes:
            assert note.removeprefix("unknown-ok:") in f.facts_missing


def test_volume_estimate_is_shown_but_never_used():
    estimate_only = Fact("total_volume_cm3", None, FactStatus.UNKNOWN, attrs={"estimated": True, "estimate": 0.27})
    facts = make(estimate_only, largest_volume_cm3=None)
    assert SRS not in rules(facts)
    trace = " ".join(map(str, finding(facts, DM).trace))
    assert "0.3 cm³" in trace and "not used as a recorded volume" in trace


def test_reassuring_organ_mdo_only_with_every_fact_known():
    for name in ("kps", "expected_survival_months", "critical_location", "largest_diameter_mm",
                 "systemic_switch_cns_response", "bm_symptomatic"):
        facts = make(**{"systemic_switch_cns_response": "high", name: None})
        assert ORGAN not in rules(facts), name


def test_reassuring_waitscan_only_with_every_fact_known():
    for name in ("resection_extent", "resected_tumour_diameter_mm"):
        values = dict(resection_extent="complete", resected_tumour_diameter_mm=20.0, mdo_discussed=True,
                      focal_treatment_date=NOW, last_brain_mri_date=NOW)
        facts = make(fact("resection_done", True, date=NOW), **{**values, name: None})
        assert "BM-POSTOP-WAITSCAN" not in rules(facts), name


def test_brain_metastases_unknown_gives_only_data_missing():
    f = finding(make(brain_metastases=None), DM)
    assert f.facts_missing == ("brain_metastases",)


def test_one_data_missing_per_response():
    facts = make(kps=None, expected_survival_months=None, brain_metastasis_count=None, wbrt_done=None,
                 focal_treatment_date=ago(365), last_brain_mri_date=None)
    found = [f.rule_id for f in run(facts)]
    assert found.count(DM) == 1
    assert {"kps", "expected_survival_months", "wbrt_done"} <= set(finding(facts, DM).facts_missing)


# -- the walker itself ------------------------------------------------------------------------------


def _atom(key: str, value: bool | None) -> Atom:
    return Atom(key, key, value, (key,))


def test_walker_kleene_and_fork_consistency():
    a, b = _atom("a", None), _atom("b", False)

    def section(walk: Walk):
        first = walk.decide("S1", "a and b?", All(a, b))  # False without asking a
        second = walk.decide("S2", "a?", a)  # forks
        third = walk.decide("S3", "a again?", AnyOf(a, Not(a)))  # same assumed value: always True, no fork
        return [Finding(f"R-{first}-{second}-{third}", facts_used=("a",))]

    tree = explore(section)
    assert sorted(next(iter(leaf.rules)) for leaf in leaves(tree)) == ["R-False-False-True", "R-False-True-True"]


def test_combine_same_and_different():
    facts = Facts.from_values()
    x = _atom("x", None)

    def same(walk: Walk):
        walk.decide("S", "x?", x)
        return [Finding("SAME", facts_used=("x",))]

    def different(walk: Walk):
        return [Finding("A" if walk.decide("S", "x?", x) else "B"), Finding("BOTH")]

    combined = combine(explore(same), facts)
    assert [f.rule_id for f in combined.findings] == ["SAME"] and combined.missing is None
    assert combined.findings[0].notes == ("unknown-ok:x",)
    combined = combine(explore(different), facts)
    assert [f.rule_id for f in combined.findings] == ["BOTH"]
    assert combined.missing.facts_missing == ("x",)
    assert tuple(map(str, combined.missing.trace)) == ("S: x? → unknown ('x') — decides A, B",)
