"""Brain cards render in Dutch and English, pass the CDS Hooks checks, and every note key has wording."""

from __future__ import annotations

import re

import pytest

from cds_service.cards.actions import load_order_templates
from cds_service.cards.render import Renderer
from cds_service.cards.templates import load_templates
from cds_service.cards.validate import check_response
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Fact, FactStatus
from cds_service.pathways import brain
from cds_service.pathways.model import DraftOrder, EvalContext

from .brain_support import CTX, NOW, ago, fact, make, run, survival_category
from .test_brain import BRANCHES
from .test_brain_followup import FOLLOWUP_CASES, POSTOP_CASES, resected
from .test_brain_unknowns import CASES as UNKNOWN_CASES

TEMPLATES = load_templates()
RENDERER = Renderer(templates=TEMPLATES, catalogue=load_fact_catalogue(), order_templates=load_order_templates(),
                    new_uuid=lambda: "00000000-0000-4000-8000-000000000000")


def render(facts, language: str, ctx: EvalContext = CTX, findings=None) -> list[dict]:
    findings = run(facts, ctx) if findings is None else findings
    cards = RENDERER.render(findings, facts, ctx, language)
    check_response({"cards": cards})
    return cards


ALL_FACTS = (
    [make(**overrides) for _, overrides, _ in BRANCHES]
    + [resected(**overrides) for _, overrides, _, _ in POSTOP_CASES]
    + [facts for _, facts, _, _ in FOLLOWUP_CASES]
    + [make(**overrides) for _, overrides, _, _, _ in UNKNOWN_CASES]
    + [
        make(survival_category("3-6-months"), kps=60),
        make(Fact.of("kps", 60, derived_from="ecog", attrs={"kps_band": "<70"}), bm_symptomatic=True,
             rapid_kps_improvement_possible=True, posterior_fossa=True),
        make(Fact.of("brain_metastases", True, attrs={"suspected": True}), bm_recurrence=True),
        make(radionecrosis_suspected=True, dexamethasone_active=True, anticoagulation=None),
        make(fact("mdo_discussed", True, date=ago(3), missing_specialties=frozenset({"neurology"}))),
        make(fact("mdo_discussed", True, date=ago(3), missing_specialties=frozenset()), bm_recurrence=True),
        make(fact("bm_symptomatic", False, assumed=True), treatment_wish=None, palliative_care_involved=False),
        make(Fact("total_volume_cm3", None, FactStatus.UNKNOWN, attrs={"estimate": 4.2}), brain_metastasis_count=12,
             largest_volume_cm3=None),
    ]
)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_case_renders_and_validates(language):
    for facts in ALL_FACTS:
        cards = render(facts, language)
        for card in cards:
            assert len(card["summary"]) < 140
            assert "{" not in card["summary"], card["summary"]
            assert "unknown-ok:" not in card["detail"] and "item:" not in card["detail"]
            assert "route-" not in card["detail"]
            assert not re.search(r"\{[a-z_]+\}", card["detail"]), card["detail"]


def test_every_note_and_variant_has_wording():
    """A note key without wording would show up raw; a variant without wording falls back silently."""
    for facts in ALL_FACTS:
        for f in run(facts):
            for language in ("nl", "en"):
                text = TEMPLATES[f.rule_id].text(language)
                for note in f.notes:
                    assert note in (text.get("notes") or {}) or note in TEMPLATES.common, (f.rule_id, note)
                if f.variant:
                    assert f.variant in {**(text.get("summary_variants") or {}), **(text.get("detail_variants") or {})}, (
                        f.rule_id, f.variant)
                for s in f.suggestions:
                    assert s.label_key in (text.get("suggestions") or {}), (f.rule_id, s.label_key)


def _card(cards, rule_id):
    (card,) = [c for c in cards if c["source"]["topic"]["code"] == rule_id]
    return card


def test_mdo_neuro_card_in_both_languages():
    facts = make(critical_location=True, anticoagulation=None)
    nl, en = render(facts, "nl"), render(facts, "en")
    card_nl, card_en = _card(nl, "BM-MDO-NEURO"), _card(en, "BM-MDO-NEURO")
    assert card_nl["summary"] == "Bespreek de patiënt in het neuro-oncologisch MDO (indicatie lokale therapie?)"
    assert card_en["summary"] == "Discuss the patient in the neuro-oncology MDO (indication for local therapy?)"
    assert card_nl["indicator"] == "warning" and card_nl["overrideReasons"]
    assert "kritieke locatie" in card_nl["detail"] and "critical location" in card_en["detail"]
    assert "Reason: asymptomatic, KPS ≥ 70, prognosis > 3 months and a metastasis in a **critical location**" in (
        card_en["detail"])
    assert "A2" not in card_en["detail"] and "Observation/" not in card_en["detail"]  # no step codes, no FHIR ids
    (suggestion,) = card_nl["suggestions"]
    (action,) = suggestion["actions"]
    resource = action["resource"]
    assert resource["resourceType"] == "ServiceRequest" and resource["subject"] == {"reference": "Patient/bm-test"}
    assert resource["note"][0]["text"].startswith("Informatie voor het neuro-oncologisch MDO")
    en_note = _card(en, "BM-MDO-NEURO")["suggestions"][0]["actions"][0]["resource"]["note"][0]["text"]
    assert en_note.startswith("Information for the neuro-oncology MDO") and "anticoagulation" in en_note
    assert card_en["source"]["label"].startswith("LWNO document")
    assert any(link["url"].startswith("https://richtlijnendatabase.nl") for link in card_en["links"])


def test_info_missing_card_lists_items_in_the_card_language():
    facts = make(anticoagulation=None, relevant_comorbidity=None)
    nl = _card(render(facts, "nl"), "BM-MDO-INFO-MISSING")
    en = _card(render(facts, "en"), "BM-MDO-INFO-MISSING")
    assert nl["summary"] == "Informatie voor het neuro-oncologisch MDO onvolledig: 2 van 14 onderdelen niet vastgelegd"
    assert "- antistolling" in nl["detail"] and "- anticoagulation" in en["detail"]
    assert nl["indicator"] == "info" and "overrideReasons" not in nl


def test_restraint_card_with_low_kps_and_survival_category():
    facts = make(survival_category("3-6-months"), kps=60)
    nl = _card(render(facts, "nl"), "BM-RESTRAINT")
    en = _card(render(facts, "en"), "BM-RESTRAINT")
    assert nl["summary"].startswith("Terughoudend beleid")
    assert "wees terughoudend met radiotherapie in welke vorm dan ook" in nl["detail"]
    assert "3-6-months" in en["detail"] and "re-enter" not in en["detail"]
    assert "reconsider presenting the patient" in en["detail"]


def test_unknown_that_did_not_matter_is_named_in_both_languages():
    facts = make(critical_location=None, largest_diameter_mm=15.0)
    nl = _card(render(facts, "nl"), "BM-MDO-NEURO")["detail"]
    en = _card(render(facts, "en"), "BM-MDO-NEURO")["detail"]
    assert "Of er een metastase op een kritieke locatie ligt, is onbekend; dat verandert dit advies niet." in nl
    assert "Whether a metastasis lies in a critical location is unknown; this does not change the advice." in en


def test_data_missing_card_names_the_fact():
    facts = make(expected_survival_months=None)
    cards = render(facts, "en")
    assert {c["source"]["topic"]["code"] for c in cards} == {"DATA-MISSING", "PROG-RPA"}
    card = _card(cards, "DATA-MISSING")
    assert card["summary"] == "Record for the guideline advice: expected survival"  # issue 15: actionable summary
    assert card["detail"].startswith("**Record: expected survival.**")
    assert "- **Expected survival** — " in card["detail"] and "not older than 3 months" in card["detail"]
    nl = _card(render(facts, "nl"), "DATA-MISSING")
    assert nl["summary"] == "Leg vast voor het richtlijnadvies: verwachte overleving"


def test_followup_mri_card_suggests_the_order():
    facts = make(focal_treatment_date=ago(365), last_brain_mri_date=ago(200), mdo_discussed=True)
    card = _card(render(facts, "nl"), "BM-FOLLOWUP-MRI")
    assert card["summary"] == "Follow-up-MRI hersenen nodig: < 2 jaar na focale behandeling elke 4 maanden"
    assert "Laatste MRI hersenen: " in card["detail"] and "Volgende MRI was nodig vanaf " in card["detail"]
    resource = card["suggestions"][0]["actions"][0]["resource"]
    assert resource["code"]["coding"][0]["code"] == "24590-2" and resource["priority"] == "routine"


@pytest.mark.parametrize("language, summary", [
    ("nl", "MDO-aanmelding onvolledig: 1 van 14 onderdelen van de benodigde informatie niet vastgelegd"),
    ("en", "MDO referral incomplete: 1 of 14 items of the information the MDO needs not recorded"),
])
def test_order_hook_cards(language, summary):
    draft = DraftOrder(id="ServiceRequest/mdo-1", kind="mdo-referral", resource={"resourceType": "ServiceRequest"},
                       display="MDO")
    mri = DraftOrder(id="ServiceRequest/mri-1", kind="mri-brain", resource={"resourceType": "ServiceRequest"},
                     display="MRI hersenen")
    ctx = EvalContext(now=NOW, hook="order-sign", draft_orders=(draft, mri), patient_id="bm-test")
    facts = make(fact("wbrt_done", True, date=ago(100)), anticoagulation=None)
    cards = render(facts, language, ctx, brain.evaluate_orders(facts, ctx))
    info = _card(cards, "BM-MDO-INFO-MISSING")
    assert info["summary"] == summary and info["indicator"] == "warning" and info["overrideReasons"]
    assert "ServiceRequest/" not in info["detail"]  # issue 15: no FHIR ids on the card
    mri_card = _card(cards, "BM-FOLLOWUP-MRI")
    assert mri_card["indicator"] == "info" and "suggestions" not in mri_card
    assert "WBRT" in mri_card["summary"]
