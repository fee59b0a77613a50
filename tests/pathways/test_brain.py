"""Brain metastases (catalog §1): every branch of the triage and treatment flowcharts, exact rule sets."""

from __future__ import annotations

import pytest

from cds_service.facts.model import Fact, Facts
from cds_service.pathways import brain
from cds_service.pathways.model import EvalContext

from .brain_support import CTX, NOW, fact, finding, make, rules, run

RPA = "PROG-RPA"
NEURO, ORGAN, RESTRAINT = "BM-MDO-NEURO", "BM-MDO-ORGAN", "BM-RESTRAINT"
REFERRAL, SRS, WBRT, RESECTION, SYSTEMIC = (
    "BM-NEURO-REFERRAL", "BM-TX-SRS", "BM-TX-WBRT", "BM-TX-RESECTION", "BM-TX-SYSTEMIC")
SYMPTOMATIC = dict(bm_symptomatic=True)

BRANCHES = [
    # -- applicability
    ("no brain metastases", dict(brain_metastases=False), set()),
    ("brain metastases unknown", dict(brain_metastases=None), {"DATA-MISSING"}),
    # -- asymptomatic triage (001 Bijlage 1)
    ("A1 no: KPS < 70", dict(kps=60), {RESTRAINT, RPA}),
    ("A1 no: prognosis ≤ 3 months", dict(expected_survival_months=2.0), {RESTRAINT, RPA}),
    ("A2 yes: critical location", dict(critical_location=True), {NEURO, SRS, RPA}),
    ("A3 yes: diameter > 10 mm", dict(largest_diameter_mm=15.0), {NEURO, SRS, RPA}),
    ("A4 yes: switch with high cerebral response", dict(systemic_switch_cns_response="high"), {ORGAN, SRS, RPA}),
    ("A4 no: no switch option", dict(), {NEURO, SRS, RPA}),
    ("A4 no: switch with low response", dict(systemic_switch_cns_response="low"), {NEURO, SRS, RPA}),
    # -- symptomatic triage (001 Bijlage 2)
    ("S1 yes", dict(SYMPTOMATIC), {NEURO, REFERRAL, SRS, RPA}),
    ("S2 yes: rapid improvement, prognosis > 3 months",
     dict(SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=True, mass_effect=False, posterior_fossa=False,
          hydrocephalus=False), {NEURO, REFERRAL, RPA}),
    ("S2 yes with mass effect: resection exception (002)",
     dict(SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=True, mass_effect=True), {NEURO, REFERRAL, RESECTION,
                                                                                        RPA}),
    ("S2 no → S3 yes: quality of life",
     dict(SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=True),
     {NEURO, REFERRAL, RPA}),
    ("S3 no: no meaningful options",
     dict(SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=False),
     {RESTRAINT, REFERRAL, RPA}),
    ("S2 no because prognosis ≤ 3 months, S3 no",
     dict(SYMPTOMATIC, kps=80, expected_survival_months=2.0, rapid_kps_improvement_possible=True,
          local_treatment_qol_benefit=False), {RESTRAINT, REFERRAL, RPA}),
    ("S3 yes with KPS ≥ 70 (prognosis ≤ 3 months): treatment options still weighed",
     dict(SYMPTOMATIC, expected_survival_months=2.0, local_treatment_qol_benefit=True), {NEURO, REFERRAL, SRS, RPA}),
    ("symptomatic, already under neurology care", dict(SYMPTOMATIC, neurology_involved=True), {NEURO, SRS, RPA}),
    ("symptomatic, neurology involvement unknown", dict(SYMPTOMATIC, neurology_involved=None),
     {NEURO, REFERRAL, SRS, RPA}),
    # -- treatment wish
    ("no treatment wish", dict(treatment_wish=False, critical_location=True), {RESTRAINT, RPA}),
    ("no treatment wish, symptomatic, on nothing", dict(SYMPTOMATIC, treatment_wish=False,
                                                        palliative_care_involved=False),
     {RESTRAINT, "BM-PALLIATIVE", RPA}),
    ("treatment wish unknown: assumed", dict(treatment_wish=None), {NEURO, SRS, RPA, "BM-MDO-INFO-MISSING"}),
    # -- systemic therapy (000)
    ("NSCLC with EGFR", dict(primary_tumour="nsclc", driver_alteration=True, driver_positive=frozenset({"EGFR"}),
                             largest_diameter_mm=15.0), {NEURO, SRS, SYSTEMIC, RPA}),
    ("lung (type unspecified) with ALK", dict(primary_tumour="lung", driver_alteration=True,
                                              driver_positive=frozenset({"ALK"})), {NEURO, SRS, SYSTEMIC, RPA}),
    ("NSCLC without driver", dict(primary_tumour="nsclc", driver_alteration=False), {NEURO, SRS, RPA}),
    ("melanoma with BRAF", dict(primary_tumour="melanoma", driver_positive=frozenset({"BRAF"}),
                                driver_negative=frozenset()), {NEURO, SRS, SYSTEMIC, RPA}),
    ("melanoma BRAF wild-type", dict(primary_tumour="melanoma", driver_positive=frozenset(),
                                     driver_negative=frozenset({"BRAF"})), {NEURO, SRS, RPA}),
    ("NSCLC with EGFR at KPS < 70 (restraint column)", dict(kps=60, primary_tumour="nsclc", driver_alteration=True,
                                                            driver_positive=frozenset({"EGFR"})),
     {RESTRAINT, SYSTEMIC, RPA}),
    ("NSCLC with EGFR already on systemic therapy",
     dict(primary_tumour="nsclc", driver_alteration=True, systemic_therapy_active=True,
          last_brain_mri_date=NOW), {NEURO, SYSTEMIC, SRS, RPA}),
    # -- resection (000)
    ("resection: 1 metastasis ≥ 25 mm, favourable",
     dict(largest_diameter_mm=30.0, total_volume_cm3=14.0, largest_volume_cm3=14.0, disease_burden_limited=True,
          systemic_options_remaining=True), {NEURO, RESECTION, SRS, RPA}),
    ("resection no: prognosis < 6 months",
     dict(largest_diameter_mm=30.0, total_volume_cm3=14.0, largest_volume_cm3=14.0, disease_burden_limited=True,
          systemic_options_remaining=True, expected_survival_months=5.0), {NEURO, SRS, RPA}),
    ("resection no: extensive disease", dict(largest_diameter_mm=30.0, total_volume_cm3=14.0, largest_volume_cm3=14.0,
                                             disease_burden_limited=False), {NEURO, SRS, RPA}),
    ("resection no: no systemic options", dict(largest_diameter_mm=30.0, total_volume_cm3=14.0,
                                               largest_volume_cm3=14.0, disease_burden_limited=True,
                                               systemic_options_remaining=False), {NEURO, SRS, RPA}),
    ("resection: several with dominant accessible lesion ≥ 25 mm",
     dict(brain_metastasis_count=3, largest_diameter_mm=28.0, total_volume_cm3=16.0, largest_volume_cm3=12.0,
          dominant_lesion_accessible=True), {NEURO, RESECTION, SRS, RPA}),
    ("resection no: several without dominant accessible lesion",
     dict(brain_metastasis_count=3, largest_diameter_mm=28.0, total_volume_cm3=16.0, largest_volume_cm3=12.0,
          dominant_lesion_accessible=False), {NEURO, SRS, RPA}),
    # -- SRS / WBRT (000)
    ("WBRT: > 10 metastases, no effective systemic therapy", dict(brain_metastasis_count=14, total_volume_cm3=6.0,
                                                                 largest_volume_cm3=1.0), {NEURO, WBRT, RPA}),
    ("WBRT no: effective switch available",
     dict(brain_metastasis_count=14, total_volume_cm3=6.0, largest_volume_cm3=1.0, largest_diameter_mm=12.0,
          systemic_switch_cns_response="high"), {NEURO, RPA}),
    ("WBRT no: targeted therapy available",
     dict(brain_metastasis_count=14, total_volume_cm3=6.0, largest_volume_cm3=1.0, primary_tumour="nsclc",
          driver_alteration=True, driver_positive=frozenset({"EGFR"})), {NEURO, SYSTEMIC, RPA}),
    ("WBRT: total volume too large", dict(brain_metastasis_count=3, total_volume_cm3=35.0, largest_volume_cm3=15.0,
                                         largest_diameter_mm=30.0, dominant_lesion_accessible=False),
     {NEURO, WBRT, RPA}),
    ("no TX cards after the MDO was held", dict(critical_location=True, mdo_discussed=True), {NEURO, RPA}),
    ("no TX cards in the organ MDO outcome", dict(systemic_switch_cns_response="high", brain_metastasis_count=14),
     {ORGAN, RPA}),
    # -- palliative care (000)
    ("palliative care not involved", dict(palliative_care_involved=False), {NEURO, SRS, RPA, "BM-PALLIATIVE"}),
    ("palliative care unknown", dict(palliative_care_involved=None), {NEURO, SRS, RPA, "BM-PALLIATIVE"}),
    ("palliative: long survival plausible", dict(palliative_care_involved=False, long_survival_or_cure_plausible=True),
     {NEURO, SRS, RPA}),
    ("palliative: survival > 12 months", dict(palliative_care_involved=False, expected_survival_months=14.0),
     {NEURO, SRS, RPA}),
    ("palliative: survival exactly 12 months", dict(palliative_care_involved=False, expected_survival_months=12.0),
     {NEURO, SRS, RPA, "BM-PALLIATIVE"}),
    # -- MDO information (001 §3)
    ("MDO information missing", dict(anticoagulation=None, relevant_comorbidity=None),
     {NEURO, SRS, RPA, "BM-MDO-INFO-MISSING"}),
    ("no MDO information card without an MDO card", dict(kps=60, anticoagulation=None), {RESTRAINT, RPA}),
    ("MDO information card also after the MDO (1f: whenever an MDO card fires)",
     dict(mdo_discussed=True, anticoagulation=None), {NEURO, RPA, "BM-MDO-INFO-MISSING"}),
]


@pytest.mark.parametrize("overrides, expected", [b[1:] for b in BRANCHES], ids=[b[0] for b in BRANCHES])
def test_branch_gives_exact_rules(overrides, expected):
    assert rules(make(**overrides)) == expected


def test_restraint_and_mdo_neuro_never_together():
    for _, overrides, _ in BRANCHES:
        found = rules(make(**overrides))
        assert not {RESTRAINT, NEURO} <= found


# -- what the triage card says ------------------------------------------------------------------


@pytest.mark.parametrize("overrides, rule_id, variant, notes", [
    (dict(kps=60), RESTRAINT, None, ("low-kps-rt-restraint", "re-enter")),
    (dict(expected_survival_months=2.0), RESTRAINT, None, ()),  # KPS ≥ 70: "re-enter when KPS recovers" is moot
    (dict(critical_location=True), NEURO, None, ("route-A2",)),
    (dict(largest_diameter_mm=11.0), NEURO, None, ("route-A3",)),
    (dict(), NEURO, None, ("route-A4-no",)),
    (dict(systemic_switch_cns_response="high"), ORGAN, None, ("route-A4",)),
    (dict(SYMPTOMATIC), NEURO, None, ("route-S1",)),
    (dict(SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=True), NEURO, None,
     ("route-S2", "low-kps-rt-restraint")),
    (dict(SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=True), NEURO,
     "qol-only", ("route-S3", "low-kps-rt-restraint")),
    (dict(SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=False, local_treatment_qol_benefit=False), RESTRAINT,
     "symptomatic", ("low-kps-rt-restraint", "re-enter", "best-supportive-care")),
    (dict(treatment_wish=False), RESTRAINT, "no-wish", ("best-supportive-care",)),
    (dict(treatment_wish=None), NEURO, None, ("route-A4-no", "treatment-wish-assumed")),
    (dict(SYMPTOMATIC, kps_on_dexamethasone=True), NEURO, None, ("route-S1", "kps-on-dexamethasone")),
])
def test_triage_card_wording(overrides, rule_id, variant, notes):
    f = finding(make(**overrides), rule_id)
    assert (f.variant, f.notes) == (variant, notes)


def test_no_symptoms_recorded_is_said():
    f = finding(make(fact("bm_symptomatic", False, assumed=True)), NEURO)
    assert f.notes == ("route-A4-no", "no-symptoms-recorded")


def test_treatment_wish_assumed_is_said_on_every_treatment_card():
    facts = make(treatment_wish=None, largest_diameter_mm=30.0, total_volume_cm3=14.0, largest_volume_cm3=14.0,
                 disease_burden_limited=True, systemic_options_remaining=True, primary_tumour="nsclc",
                 driver_alteration=True, driver_positive=frozenset({"EGFR"}))
    by_rule = {f.rule_id: f for f in run(facts)}
    assert set(by_rule) == {NEURO, RESECTION, SRS, SYSTEMIC, RPA, "BM-MDO-INFO-MISSING"}
    for rule_id in (NEURO, RESECTION, SRS, SYSTEMIC):
        assert "treatment-wish-assumed" in by_rule[rule_id].notes
        assert "treatment_wish" in by_rule[rule_id].facts_missing
    assert "treatment-wish-assumed" not in by_rule[RPA].notes


def test_kps_from_ecog_is_said():
    kps = Fact.of("kps", 80, derived_from="ecog", attrs={"kps_band": ">=70"})
    by_rule = {f.rule_id: f for f in run(make(kps))}
    assert "kps-from-ecog" in by_rule[NEURO].notes
    assert "kps-from-ecog" in by_rule[RPA].notes
    assert by_rule[NEURO].params["kps_band"] == ">=70"


def test_mdo_neuro_after_a_complete_mdo_is_info_without_suggestion():
    f = finding(make(fact("mdo_discussed", True, date=NOW, missing_specialties=frozenset())), NEURO)
    assert (f.variant, f.indicator, f.suggestions) == ("discussed", "info", ())


def test_mdo_neuro_after_an_incomplete_mdo_names_the_absent_specialties():
    f = finding(make(fact("mdo_discussed", True, date=NOW, missing_specialties=frozenset({"neuroradiology"}))), NEURO)
    assert f.variant == "mdo-incomplete"
    assert f.params["missing_specialties"].get("en") == "neuroradiologist"
    assert f.suggestions[0].label_key == "refer-mdo"


def test_mdo_referral_suggestion_carries_the_information_note():
    f = finding(make(anticoagulation=None), NEURO)
    (suggestion,) = f.suggestions
    (action,) = suggestion.actions
    assert (action.type, action.resource_kind) == ("create", "mdo-referral")
    note = action.params["note"]
    assert "antistolling" in note.get("nl") and "anticoagulation" in note.get("en")


def test_organ_mdo_suggests_organ_mdo_referral():
    f = finding(make(systemic_switch_cns_response="high"), ORGAN)
    assert f.suggestions[0].actions[0].resource_kind == "organ-mdo-referral"


def test_resection_mentions_002_indications():
    f = finding(make(largest_diameter_mm=38.0, total_volume_cm3=19.0, largest_volume_cm3=19.0,
                     disease_burden_limited=True, systemic_options_remaining=True, mass_effect=True,
                     posterior_fossa=True, hydrocephalus=False), RESECTION)
    assert f.variant == "single"
    assert f.notes == ("larger-than-35mm", "mass-effect", "posterior-fossa")


def test_low_kps_resection_exception_variant():
    f = finding(make(**SYMPTOMATIC, kps=60, rapid_kps_improvement_possible=True, posterior_fossa=True), RESECTION)
    assert f.variant == "low-kps"
    # mass effect and hydrocephalus are unknown, but one reason suffices: the card says they did not matter
    assert f.notes == ("low-kps-exception", "posterior-fossa", "unknown-ok:mass_effect", "unknown-ok:hydrocephalus")
    assert f.facts_missing == ("mass_effect", "hydrocephalus")


def test_systemic_card_names_the_driver():
    f = finding(make(primary_tumour="nsclc", driver_alteration=True, driver_positive=frozenset({"EGFR"})), SYSTEMIC)
    assert (f.variant, f.params["drivers"]) == ("nsclc", frozenset({"EGFR"}))


def test_suspected_brain_metastases_are_flagged():
    facts = make(Fact.of("brain_metastases", True, attrs={"suspected": True}))
    assert all("bm-suspected" in f.notes for f in run(facts))


def test_findings_list_their_facts():
    f = finding(make(critical_location=True), NEURO)
    assert f.facts_used == ("bm_symptomatic", "kps", "expected_survival_months", "critical_location",
                            "mdo_discussed")
    assert f.facts_missing == ()
    assert str(f.trace[-1]) == "Triage outcome (asymptomatic flowchart, node A2): BM-MDO-NEURO"


def test_patient_view_ignores_draft_orders_and_order_hook_ignores_patient_view():
    assert brain.evaluate_orders(make(), CTX) == []
    assert rules(make(), EvalContext(now=NOW, hook="order-select")) == {NEURO, SRS, RPA}


def test_pathway_is_pure_and_deterministic():
    facts = make(critical_location=None, largest_diameter_mm=None)
    assert run(facts) == run(facts)


def test_empty_facts_do_not_crash():
    assert [f.rule_id for f in brain.evaluate(Facts(), CTX)] == ["DATA-MISSING"]
