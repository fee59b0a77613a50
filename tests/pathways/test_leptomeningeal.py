"""Leptomeningeal metastases pathway (catalog §4): exact rule ids per branch, notes, suggestions, cards."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service.cards.actions import load_order_templates
from cds_service.cards.render import Renderer
from cds_service.cards.templates import load_templates
from cds_service.cards.validate import check_response
from cds_service.facts.model import Fact, Facts, FactStatus
from cds_service.pathways import leptomeningeal
from cds_service.pathways.model import EvalContext

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
CTX = EvalContext(now=NOW, patient_id="lm-test")
S = frozenset


def lm_facts(**values) -> Facts:
    base = dict(solid_cancer=True, primary_tumour="breast", leptomeningeal_metastases="none", lm_symptoms=S(),
                csf_cytology_results=())
    base.update(values)
    return Facts.from_values(now=NOW, **{k: v for k, v in base.items() if v is not None})


def ids(facts: Facts) -> list[str]:
    return [f.rule_id for f in leptomeningeal.evaluate(facts, CTX)]


def finding(facts: Facts, rule: str):
    return next(f for f in leptomeningeal.evaluate(facts, CTX) if f.rule_id == rule)


BRANCHES = [
    # (case, facts, exact rule ids)
    ("suspect-breast", dict(primary_tumour="breast", lm_symptoms=S({"headache"})), ["LM-SUSPECT"]),
    ("suspect-lung", dict(primary_tumour="nsclc", lm_symptoms=S({"cranial-nerve-deficit", "radicular-pain"})),
     ["LM-SUSPECT"]),
    ("suspect-melanoma", dict(primary_tumour="melanoma", lm_symptoms=S({"confusion"})), ["LM-SUSPECT"]),
    ("suspect-other-solid", dict(primary_tumour="colorectal", lm_symptoms=S({"ataxia"})), ["LM-SUSPECT"]),
    ("suspect-cup", dict(primary_tumour="unknown", solid_cancer=None, lm_symptoms=S({"headache"})), ["LM-SUSPECT"]),
    ("recorded-suspicion-no-symptoms", dict(leptomeningeal_metastases="suspected"), ["LM-SUSPECT"]),
    ("no-symptoms", dict(primary_tumour="renal"), []),
    ("no-solid-cancer", dict(solid_cancer=False, primary_tumour="other", lm_symptoms=S({"headache"})), []),
    ("haematological", dict(solid_cancer=None, primary_tumour="haematological", lm_symptoms=S({"headache"})), []),
    # catalog *Population*: no cancer in the Condition list ⇒ outside the population, no card
    ("no-primary-recorded", dict(solid_cancer=False, primary_tumour=None, lm_symptoms=S({"headache"})), []),
    # the Condition list could not be read: whether there is a cancer is unknown ⇒ DATA-MISSING
    ("cancer-status-unknown", dict(solid_cancer=None, primary_tumour=None, lm_symptoms=S({"headache"})),
     ["DATA-MISSING"]),
    ("one-negative", dict(lm_symptoms=S({"headache"}), csf_cytology_results=("negative",)),
     ["LM-SUSPECT", "LM-REPEAT-CSF"]),
    # catalog §4 "exactly one CSF cytology … negative"; every result counts (fhir-mapping), so two were done
    ("negative-and-inconclusive", dict(lm_symptoms=S({"headache"}), csf_cytology_results=("inconclusive", "negative")),
     ["LM-SUSPECT"]),
    ("two-negatives", dict(lm_symptoms=S({"headache"}), csf_cytology_results=("negative", "negative")),
     ["LM-SUSPECT"]),
    ("inconclusive-only", dict(lm_symptoms=S({"headache"}), csf_cytology_results=("inconclusive",)), ["LM-SUSPECT"]),
    ("positive-cytology", dict(lm_symptoms=S({"cranial-nerve-deficit"}), csf_cytology_results=("negative", "positive")),
     ["LM-TREATMENT"]),
    ("positive-cytology-headache", dict(lm_symptoms=S({"headache"}), csf_cytology_results=("positive",)),
     ["LM-TREATMENT", "LM-SYMPTOMS"]),
    ("confirmed-no-symptoms", dict(leptomeningeal_metastases="confirmed"), ["LM-TREATMENT"]),
    ("confirmed-other-symptoms", dict(leptomeningeal_metastases="confirmed",
                                      lm_symptoms=S({"cranial-nerve-deficit", "radicular-pain", "ataxia"})),
     ["LM-TREATMENT"]),
    *[(f"confirmed-{sym}", dict(leptomeningeal_metastases="confirmed", lm_symptoms=S({sym})),
       ["LM-TREATMENT", "LM-SYMPTOMS"])
      for sym in ("meningeal-irritation", "headache", "nausea-vomiting", "confusion")],
    ("confirmed-haematological", dict(leptomeningeal_metastases="confirmed", solid_cancer=False,
                                      primary_tumour="other"), []),
    # unknown deciding facts → DATA-MISSING, never silence
    ("primary-unknown", dict(solid_cancer=None, primary_tumour=None, lm_symptoms=S({"headache"})), ["DATA-MISSING"]),
    ("symptoms-unknown", dict(lm_symptoms=None), ["DATA-MISSING"]),
    ("lm-status-unknown", dict(leptomeningeal_metastases=None, lm_symptoms=S({"headache"})), ["DATA-MISSING"]),
    ("confirmed-symptoms-unknown", dict(leptomeningeal_metastases="confirmed", lm_symptoms=None),
     ["LM-TREATMENT", "DATA-MISSING"]),
    ("nothing-on-record", dict(solid_cancer=None, primary_tumour=None, lm_symptoms=None), []),
]


@pytest.mark.parametrize("case,values,expected", BRANCHES, ids=[b[0] for b in BRANCHES])
def test_branches(case, values, expected):
    assert ids(lm_facts(**values)) == expected


@pytest.mark.parametrize("values,missing", [
    (dict(solid_cancer=None, primary_tumour=None, lm_symptoms=S({"headache"})), ("solid_cancer", "primary_tumour")),
    (dict(lm_symptoms=None), ("lm_symptoms",)),
    (dict(leptomeningeal_metastases=None, lm_symptoms=S({"headache"})), ("leptomeningeal_metastases",)),
    (dict(leptomeningeal_metastases="confirmed", lm_symptoms=None), ("lm_symptoms",)),
])
def test_data_missing_names_the_deciding_fact(values, missing):
    assert finding(lm_facts(**values), "DATA-MISSING").facts_missing == missing


@pytest.mark.parametrize("primary,variant", [
    ("breast", "high-prior"), ("nsclc", "high-prior"), ("lung", "high-prior"), ("melanoma", "high-prior"),
    ("renal", None), ("colorectal", None),
])
def test_suspect_says_when_the_primary_raises_the_prior(primary, variant):
    f = finding(lm_facts(primary_tumour=primary, lm_symptoms=S({"headache"})), "LM-SUSPECT")
    assert f.variant == variant
    assert ("high-prior" in f.notes) == (variant is not None)


@pytest.mark.parametrize("symptoms,multifocal,levels", [
    (S({"headache"}), False, None),
    (S({"headache", "confusion"}), False, None),  # both cerebral
    (S({"cranial-nerve-deficit", "radicular-pain"}), True, "cranial nerves, spinal"),
    (S({"headache", "cranial-nerve-deficit", "radicular-deficit"}), True, "cerebral, cranial nerves, spinal"),
])
def test_multifocal_symptoms_are_noted(symptoms, multifocal, levels):
    f = finding(lm_facts(lm_symptoms=symptoms), "LM-SUSPECT")
    assert ("multifocal" in f.notes) == multifocal
    assert f.params.get("levels_en") == levels


def _kinds(f) -> list[str]:
    return [a.resource_kind for s in f.suggestions for a in s.actions]


@pytest.mark.parametrize("values,kinds,notes", [
    (dict(), ["mri-brain-spine-gadolinium", "csf-examination"], []),
    (dict(lm_mri_enhancement=True), ["csf-examination"], ["mri-enhancement"]),
    (dict(lm_mri_enhancement=False), ["csf-examination"], ["mri-no-enhancement"]),
    (dict(csf_cytology_results=("inconclusive",)), ["mri-brain-spine-gadolinium", "csf-examination"],
     ["csf-inconclusive"]),
    (dict(csf_cytology_results=("negative",)), ["mri-brain-spine-gadolinium"], []),
    (dict(csf_cytology_results=("negative", "negative"), lm_mri_enhancement=False), [],
     ["mri-no-enhancement", "csf-negative-repeated"]),
])
def test_suspect_suggests_only_what_is_still_needed(values, kinds, notes):
    f = finding(lm_facts(lm_symptoms=S({"headache"}), **values), "LM-SUSPECT")
    assert _kinds(f) == kinds
    assert all(n in f.notes for n in notes)
    assert f.notes[-1] == "differential"


def test_repeat_csf_suggests_a_new_lumbar_puncture():
    f = finding(lm_facts(lm_symptoms=S({"headache"}), csf_cytology_results=("negative",)), "LM-REPEAT-CSF")
    assert _kinds(f) == ["csf-examination"]
    assert "csf_cytology_results" in f.facts_used


@pytest.mark.parametrize("values,variant,notes", [
    (dict(primary_tumour="nsclc", driver_positive=S({"EGFR"})), "egfr", ["driver-egfr"]),
    (dict(primary_tumour="nsclc", driver_positive=S({"EGFR", "ALK"})), "egfr", ["driver-egfr", "driver-other"]),
    (dict(primary_tumour="nsclc", driver_positive=S({"ALK"})), None, ["driver-other"]),
    (dict(primary_tumour="nsclc"), None, ["drivers-untested-lung"]),
    (dict(primary_tumour="nsclc", driver_positive=S(), driver_negative=S({"EGFR"})), None,
     ["drivers-negative-lung"]),
    (dict(primary_tumour="breast", her2_positive=True, hormone_receptor_positive=True), "her2",
     ["breast-her2", "breast-hr", "breast-chemo"]),
    (dict(primary_tumour="breast", her2_positive=False), None, ["breast-chemo"]),
    (dict(primary_tumour="breast"), None, ["breast-her2-unknown"]),
    (dict(primary_tumour="melanoma", driver_positive=S({"BRAF"})), None, ["driver-other"]),
])
def test_treatment_names_the_patients_drivers(values, variant, notes):
    f = finding(lm_facts(leptomeningeal_metastases="confirmed", **values), "LM-TREATMENT")
    assert f.variant == variant
    assert all(n in f.notes for n in notes), f.notes


@pytest.mark.parametrize("values,note", [
    (dict(kps=40), "condition-poor"),
    (dict(patient_condition="poor"), "condition-poor"),
    (dict(), "condition-unknown"),
])
def test_treatment_weighs_the_condition(values, note):
    f = finding(lm_facts(leptomeningeal_metastases="confirmed", **values), "LM-TREATMENT")
    assert note in f.notes


def test_positive_cytology_asks_to_record_the_diagnosis():
    f = finding(lm_facts(csf_cytology_results=("positive",)), "LM-TREATMENT")
    assert "record-diagnosis" in f.notes


@pytest.mark.parametrize("symptoms,lines", [
    (S({"meningeal-irritation"}), ["meningeal-irritation"]),
    (S({"headache", "nausea-vomiting"}), ["headache-vomiting"]),
    (S({"confusion", "headache", "ataxia"}), ["headache-vomiting", "confusion"]),
    (S({"meningeal-irritation", "headache", "nausea-vomiting", "confusion"}),
     ["meningeal-irritation", "headache-vomiting", "confusion"]),
])
def test_symptom_card_has_one_line_per_symptom_group(symptoms, lines):
    f = finding(lm_facts(leptomeningeal_metastases="confirmed", lm_symptoms=symptoms), "LM-SYMPTOMS")
    assert [n for n in f.notes if n != "dexamethasone-active"] == lines


def test_symptom_lines_name_the_patients_symptoms():
    f = finding(lm_facts(leptomeningeal_metastases="confirmed", lm_symptoms=S({"headache", "nausea-vomiting"})),
                "LM-SYMPTOMS")
    assert f.params["headache_vomiting_nl"] == "hoofdpijn, misselijkheid/braken"
    assert f.params["headache_vomiting_en"] == "headache, nausea/vomiting"


@pytest.mark.parametrize("dexa,suggested", [(None, False), (False, True), (True, False)])
def test_dexamethasone_suggested_for_meningeal_irritation_unless_active(dexa, suggested):
    """Unknown whether on dexamethasone (issue #13: an unidentifiable medication order): no one-click start."""
    facts = lm_facts(leptomeningeal_metastases="confirmed", lm_symptoms=S({"meningeal-irritation"}))
    if dexa is not None:
        facts = facts.with_values(Fact(name="dexamethasone_active", value=dexa, status=FactStatus.KNOWN,
                                       attrs={"dose": "4 mg 2x daily"}))
    f = finding(facts, "LM-SYMPTOMS")
    assert (_kinds(f) == ["dexamethasone-lm"]) == suggested
    assert ("dexamethasone-active" in f.notes) == (dexa is True)


def test_rules_tuple_lists_everything_the_pathway_emits():
    emitted = {r for _, v, expected in BRANCHES for r in expected}
    assert emitted <= set(leptomeningeal.RULES)


# -- cards in both languages ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(load_templates(), load_fact_catalogue_safe(), load_order_templates(), new_uuid=lambda: "u-1")


def load_fact_catalogue_safe():
    from cds_service.facts.catalogue import load_fact_catalogue

    return load_fact_catalogue()


RENDERED = [
    dict(primary_tumour="nsclc", lm_symptoms=S({"cranial-nerve-deficit", "radicular-pain"}),
         csf_cytology_results=("negative",)),
    dict(primary_tumour="colorectal", lm_symptoms=S({"headache"})),
    dict(leptomeningeal_metastases="confirmed", primary_tumour="nsclc", driver_positive=S({"EGFR"}),
         lm_symptoms=S({"meningeal-irritation", "headache", "nausea-vomiting", "confusion"})),
    dict(leptomeningeal_metastases="confirmed", primary_tumour="breast", her2_positive=True),
    dict(solid_cancer=None, primary_tumour=None, lm_symptoms=S({"headache"})),
]


@pytest.mark.parametrize("values", RENDERED)
@pytest.mark.parametrize("language", ["nl", "en"])
def test_cards_render_and_validate(renderer, values, language):
    facts = lm_facts(**values)
    findings = leptomeningeal.evaluate(facts, CTX)
    cards = renderer.render(findings, facts, CTX, language)
    check_response({"cards": cards})
    assert [c["source"]["topic"]["code"] for c in cards] == [f.rule_id for f in findings]
    for card in cards:
        assert len(card["summary"]) < 140
        assert "{" not in card["summary"] and "{" not in card["detail"]
        if card["indicator"] != "info":
            assert card["overrideReasons"]


def test_symptom_card_lines_in_dutch(renderer):
    facts = lm_facts(leptomeningeal_metastases="confirmed", lm_symptoms=S({"meningeal-irritation", "confusion"}))
    cards = renderer.render(leptomeningeal.evaluate(facts, CTX), facts, CTX, "nl")
    detail = next(c for c in cards if c["source"]["topic"]["code"] == "LM-SYMPTOMS")["detail"]
    assert "**meningeale prikkeling**: dexamethason 2× daags 3 mg" in detail
    assert "**verwardheid**: haloperidol; lorazepam" in detail
    assert "fossa posterior" not in detail  # no headache or vomiting recorded


@pytest.mark.parametrize("primary", sorted(leptomeningeal.PRIMARY_LABELS))
@pytest.mark.parametrize("language", ["nl", "en"])
def test_suspect_summary_fits_for_every_primary(renderer, primary, language):
    facts = lm_facts(primary_tumour=primary, lm_symptoms=S({"headache"}))
    card = renderer.render(leptomeningeal.evaluate(facts, CTX), facts, CTX, language)[0]
    assert len(card["summary"]) < 140 and not card["summary"].endswith("…")
