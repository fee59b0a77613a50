"""The MDO information checklist (LWNO 001 §3): present / missing per item, and the referral note."""

from __future__ import annotations

import pytest

from cds_service.cards.templates import load_templates
from cds_service.facts.model import Fact, Facts
from cds_service.pathways.mdo_info import ITEM_KEYS, label, mdo_information, note_text, referral_note

from .brain_support import BASE, fact, make

# Each item with the overrides that make it missing, and the facts the card then asks to record.
ITEM_CASES = [
    ("oncological-history", dict(primary_tumour=None), ("primary_tumour",)),
    ("primary-tumour-markers", dict(driver_alteration=None), ("driver_alteration",)),
    ("previous-treatment-lines", dict(previous_treatment_lines=None), ("previous_treatment_lines",)),
    ("previous-brain-treatment", dict(wbrt_done=None, resection_done=None), ("focal_treatment_date", "wbrt_done")),
    ("comorbidity", dict(relevant_comorbidity=None), ("relevant_comorbidity",)),
    ("anticoagulation", dict(anticoagulation=None), ("anticoagulation",)),
    ("extracranial-status", dict(extracranial_disease_status=None), ("extracranial_disease_status",)),
    ("prognosis", dict(expected_survival_months=None), ("expected_survival_months",)),
    ("kps", dict(kps=None), ("kps",)),
    ("dexamethasone", dict(dexamethasone_active=None), ("dexamethasone_active",)),
    ("symptoms", dict(bm_symptomatic=None), ("bm_symptomatic",)),
    ("critical-location", dict(critical_location=None), ("critical_location",)),
    ("lesions", dict(brain_metastasis_count=None), ("brain_metastasis_count",)),
    ("patient-wish", dict(treatment_wish=None), ("treatment_wish",)),
]


def test_base_record_is_complete():
    info = mdo_information(make())
    assert info.missing == () and info.complete
    assert tuple(key for key, _ in info.present) == ITEM_KEYS


@pytest.mark.parametrize("key, overrides, to_record", ITEM_CASES, ids=[c[0] for c in ITEM_CASES])
def test_each_item_missing(key, overrides, to_record):
    info = mdo_information(make(**overrides))
    # without a primary tumour its markers cannot be known either
    assert info.missing == ((key, "primary-tumour-markers") if key == "oncological-history" else (key,))
    assert info.missing_facts == to_record


def test_every_item_is_checked():
    assert [c[0] for c in ITEM_CASES] == list(ITEM_KEYS)


def test_empty_record_misses_everything():
    info = mdo_information(Facts())
    assert info.missing == ITEM_KEYS and info.present == ()


@pytest.mark.parametrize("primary, extra, missing", [
    ("breast", dict(her2_positive=True, hormone_receptor_positive=False), ()),
    ("breast", dict(her2_positive=True), ("primary-tumour-markers",)),
    ("melanoma", dict(driver_positive=frozenset(), driver_negative=frozenset({"BRAF"})), ()),
    ("melanoma", dict(driver_positive=frozenset({"NRAS"}), driver_negative=frozenset()), ("primary-tumour-markers",)),
    ("nsclc", dict(driver_alteration=True), ()),
])
def test_markers_depend_on_the_primary(primary, extra, missing):
    values = {**BASE, "driver_alteration": None, "primary_tumour": primary, **extra}
    assert mdo_information(Facts.from_values(**values)).missing == missing


def test_symptoms_assumed_absent_are_not_information():
    """"No symptoms recorded" is not "asymptomatic": the MDO needs it recorded."""
    assert mdo_information(make(fact("bm_symptomatic", False, assumed=True))).missing == ("symptoms",)


def test_dexamethasone_needs_the_dose():
    assert mdo_information(make(fact("dexamethasone_active", True))).missing == ("dexamethasone",)
    assert mdo_information(make(fact("dexamethasone_active", True, dose="4 mg 2x daily"))).missing == ()


def test_progressive_extracranial_disease_needs_options_and_response_chance():
    facts = make(extracranial_disease_status="progressive", systemic_switch_cns_response=None,
                 systemic_options_remaining=None)
    info = mdo_information(facts)
    assert info.missing == ("extracranial-status",)
    assert info.missing_facts == ("systemic_options_remaining", "systemic_switch_cns_response")


def test_kps_band_from_ecog_counts():
    facts = make(kps=None).with_values(Fact.of("kps_ge_70", True))
    assert mdo_information(facts).missing == ()


@pytest.mark.parametrize("language, start, present, missing", [
    ("nl", "Informatie voor het neuro-oncologisch MDO (LWNO).", "KPS: 80",
     "Ontbreekt nog: antistolling; wens van de patiënt."),
    ("en", "Information for the neuro-oncology MDO (LWNO).", "KPS: 80",
     "Still missing: anticoagulation; patient's wish."),
])
def test_note_text(language, start, present, missing):
    text = note_text(make(anticoagulation=None, treatment_wish=None), language)
    assert text.startswith(start)
    assert present in text and text.endswith(missing)


def test_note_text_values():
    text = note_text(make(brain_metastasis_count=3, largest_diameter_mm=12.5,
                          driver_positive=frozenset({"EGFR"}), primary_tumour="nsclc", driver_alteration=True,
                          dexamethasone_active=True).with_values(Fact.of("dexamethasone_active", True,
                                                                         attrs={"dose": "4 mg 2dd"})), "nl")
    assert "locatie, aantal en grootte van de metastasen: 3 metastasen, grootste 12,5 mm" in text
    assert "niet-kleincellig longcarcinoom (NSCLC) (EGFR+)" in text and "dexamethason ja/nee en dosis: ja, 4 mg 2dd" in text
    assert text.endswith("Ontbreekt nog: niets.")


def test_note_text_of_an_empty_record():
    assert note_text(Facts(), "en").startswith("Information for the neuro-oncology MDO (LWNO). Present: nothing.")


def test_referral_note_is_worded_per_language():
    note = referral_note(make(anticoagulation=None))
    assert note.get("nl") == note_text(make(anticoagulation=None), "nl")
    assert note.in_language("en") == note_text(make(anticoagulation=None), "en")


def test_card_template_has_a_line_per_item():
    template = load_templates()["BM-MDO-INFO-MISSING"]
    for language in ("nl", "en"):
        notes = template.text(language)["notes"]
        for key in ITEM_KEYS:
            assert f"item:{key}" in notes
            assert label(key, language)
