"""Spinal findings rendered as CDS Hooks cards (nl and en) and checked against the card rules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from itertools import count
from typing import Any

import pytest

from cds_service.cards.actions import load_order_templates
from cds_service.cards.render import Renderer
from cds_service.cards.templates import load_templates
from cds_service.cards.validate import check_response
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Fact, Facts
from cds_service.pathways import spine
from cds_service.pathways.model import DraftOrder, EvalContext

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
CTX = EvalContext(now=NOW, patient_id="sm-test", user_id="Practitioner/dr1")
TEMPLATES = load_templates()


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    ids = count(1)
    return Renderer(templates=TEMPLATES, catalogue=load_fact_catalogue(), order_templates=load_order_templates(),
                    new_uuid=lambda: f"uuid-{next(ids)}")


def ago(hours: float = 0, days: float = 0) -> datetime:
    return NOW - timedelta(hours=hours, days=days)


def at(value: Any, onset: datetime | None = None, recorded: datetime | None = None, **attrs: Any) -> tuple:
    extra = {k: v for k, v in (("onset", onset), ("recorded", recorded)) if v is not None}
    return value, {**extra, **attrs}


def facts(**values: Any) -> Facts:
    out = {}
    for name, value in values.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
            out[name] = Fact.of(name, value[0], attrs=value[1])
        elif value is not None:
            out[name] = Fact.of(name, value)
    return Facts(values=out, now=NOW)


OLD = dict(onset=ago(days=30), recorded=ago(days=20))
KNOWN = dict(spinal_metastases=True, treatment_wish=True, expected_survival_months=9.0, primary_tumour="breast",
             mescc="none", sins_total=3, sre_risk=False, neuro_deficit_expected_soon=False, dexamethasone_active=False,
             radiosensitive_tumour=False, oligometastases=False, patient_condition="good",
             definitive_diagnosis_date=ago(days=1), spine_imaging_date=ago(days=12))

SCENARIOS = {
    "seed-002-case": dict(KNOWN, transverse_lesion=at("incomplete", ago(days=7), ago(hours=3)),
                          deficit_progressive=True,
                          local_back_pain=at(True, ago(days=90), ago(hours=3)),
                          mescc=at("clinical", ago(days=7), ago(hours=2)), sins_total=14, primary_tumour="unknown",
                          spine_imaging_date=ago(hours=2), compression_levels=1, surgery_possible_24h=True,
                          condition_allows_surgery=True),
    "suspected-lhermitte-passed": dict(spinal_metastases=(True, {"suspected": True}), primary_tumour="lung",
                                       lhermitte_sign=at(True, ago(days=1), ago(hours=14)),
                                       adequate_spine_imaging=False),
    "suspected-unknown-onset": dict(spinal_metastases=(True, {"suspected": True}), primary_tumour=None,
                                    transverse_lesion=at("complete", None, ago(hours=1))),
    "asymptomatic": dict(KNOWN),
    "short-life": dict(KNOWN, expected_survival_months=0.3, sins_total=15, rt_response_expected=False,
                       local_back_pain=at(True, **OLD)),
    "no-wish": dict(KNOWN, treatment_wish=False),
    "pain-oligo": dict(KNOWN, local_back_pain=at(True, **OLD), oligometastases=None, treatment_wish=None),
    "postop": dict(KNOWN, local_back_pain=at(True, **OLD), postop_neuro_recovery="insufficient"),
    "irreversible": dict(KNOWN, transverse_lesion=at("complete", **OLD), transverse_lesion_irreversible=True,
                         pain_severity="moderate"),
    "deficit-boundary": dict(KNOWN, neurological_deficit=True, deficit_progressive=False,
                             expected_survival_months=12.0, spinal_instability=True),
    "everything-unknown": dict(spinal_metastases=True, local_back_pain=True),
}


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_cards_render_and_pass_the_cds_hooks_rules(renderer: Renderer, scenario: str, language: str) -> None:
    f = facts(**SCENARIOS[scenario])
    findings = spine.evaluate(f, CTX)
    assert findings, "every scenario yields cards"
    cards = renderer.render(findings, f, CTX, language)
    check_response({"cards": cards})
    for finding, card in zip(findings, cards):
        assert card["source"]["topic"]["code"] == finding.rule_id
        assert len(card["summary"]) < 140 and not card["summary"].endswith("…")  # never shortened
        assert not re.search(r"\{\w+\}", card["summary"] + card["detail"]), card["summary"]
        template = TEMPLATES[finding.rule_id].text(language)
        if finding.variant is not None:
            assert finding.variant in template.get("summary_variants", {}), (finding.rule_id, finding.variant)
        for note in finding.notes:
            assert note in template.get("notes", {}) or note in TEMPLATES.common, (finding.rule_id, note)
        for spec in finding.suggestions:
            assert spec.label_key in template.get("suggestions", {}), (finding.rule_id, spec.label_key)
        if card["indicator"] != "info":
            assert card["overrideReasons"], finding.rule_id
        if finding.rule_id != "DATA-MISSING":
            assert card["links"][0]["url"] == "https://richtlijnendatabase.nl/richtlijn/wervelmetastasen/"


def test_every_rule_has_a_template() -> None:
    assert all(rule in TEMPLATES for rule in spine.RULES)


def test_mri_deadline_is_an_absolute_local_time(renderer: Renderer) -> None:
    f = facts(spinal_metastases=(True, {"suspected": True}), primary_tumour="lung", adequate_spine_imaging=False,
              lhermitte_sign=at(True, ago(days=1), NOW - timedelta(minutes=20)))
    [card] = renderer.render([x for x in spine.evaluate(f, CTX) if x.rule_id == "SM-MRI-URGENCY"], f, CTX, "nl")
    assert card["summary"] == "MRI gehele wervelkolom uiterlijk vandaag 21:40"  # 08:40Z + 12 h = 21:40 CET
    [suggestion] = card["suggestions"]
    assert suggestion["label"] == "MRI gehele wervelkolom binnen 12 uur"
    resource = suggestion["actions"][0]["resource"]
    assert (resource["resourceType"], resource["priority"], resource["occurrencePeriod"]["end"]) == (
        "ServiceRequest", "stat", "2026-11-24T20:40:00+00:00")
    assert resource["subject"] == {"reference": "Patient/sm-test"}


def test_dexamethasone_suggestion_is_a_draft_medication_request_with_the_scheme(renderer: Renderer) -> None:
    f = facts(spinal_metastases=True, primary_tumour="breast", dexamethasone_active=False, neurological_deficit=True)
    [card] = renderer.render([x for x in spine.evaluate(f, CTX) if x.rule_id == "SM-DEXAMETHASONE"], f, CTX, "en")
    resource = card["suggestions"][0]["actions"][0]["resource"]
    assert (resource["resourceType"], resource["status"]) == ("MedicationRequest", "draft")
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "H02AB02"
    assert resource["dosageInstruction"][0]["text"].startswith("10 mg IV bolus, then 8–16 mg orally once daily")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_order_hook_update_carries_the_whole_draft_with_the_new_priority(renderer: Renderer, language: str) -> None:
    draft_resource = {"resourceType": "ServiceRequest", "id": "mri-1", "status": "draft", "intent": "order",
                      "priority": "routine", "subject": {"reference": "Patient/sm-test"},
                      "code": {"coding": [{"system": "http://loinc.org", "code": "24937-5"}]},
                      "note": [{"text": "keep me"}]}
    order = DraftOrder(id="ServiceRequest/mri-1", kind="mri-spine", resource=draft_resource, priority="routine",
                       display="MRI wervelkolom, routine")
    ctx = EvalContext(now=NOW, hook="order-select", draft_orders=(order,), patient_id="sm-test")
    f = facts(spinal_metastases=True, primary_tumour="breast", dexamethasone_active=False,
              radicular_deficit=at("unilateral", ago(days=2), ago(hours=1)))
    findings = spine.evaluate_orders(f, ctx)
    # one-sided radicular deficit: no start-now dexamethasone card (catalog §3c); the MRI card asks to determine the
    # indication for corticosteroids instead, so the two cards on one screen cannot contradict each other
    assert sorted(x.rule_id for x in findings) == ["SM-MRI-URGENCY"]
    cards = renderer.render(findings, f, ctx, language)
    check_response({"cards": cards})
    [mri] = [c for c in cards if c["source"]["topic"]["code"] == "SM-MRI-URGENCY"]
    assert mri["indicator"] == "warning"
    assert "MRI wervelkolom, routine" in mri["detail"]  # the card names the order
    assert {"nl": "Bepaal de indicatie voor corticosteroïden", "en": "Decide on corticosteroids"}[language] in mri["detail"]
    assert not re.search(r"[Ss]tart (direct )?dexamethason", mri["detail"])
    [action] = mri["suggestions"][0]["actions"]
    assert action["type"] == "update"
    resource = action["resource"]
    assert resource["id"] == "mri-1" and resource["note"] == [{"text": "keep me"}]
    assert resource["priority"] == "asap"
    assert resource["occurrencePeriod"]["end"] == "2026-11-25T08:00:00+00:00"
    label = mri["suggestions"][0]["label"]
    assert label == {"nl": "MRI gehele wervelkolom binnen 24 uur", "en": "MRI whole spine within 24 h"}[language]
