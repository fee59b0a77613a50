"""Every rule of cds_service/cards/validate.py: one valid card, then one breach per rule."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from cds_service.cards.validate import CardSpecError, check_action, check_card, check_response

SERVICE_REQUEST = {
    "resourceType": "ServiceRequest",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
}
MEDICATION_REQUEST = {
    "resourceType": "MedicationRequest",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "H02AB02"}]},
}


def valid_card() -> dict[str, Any]:
    return {
        "uuid": "c1",
        "summary": "Bespreek in het neuro-oncologisch MDO",
        "indicator": "warning",
        "detail": "**Waarom**",
        "source": {
            "label": "FMS-richtlijn Hersenmetastasen",
            "url": "https://richtlijnendatabase.nl/",
            "topic": {"system": "https://neuro-onc-cds.example.org/fhir/CodeSystem/rules", "code": "BM-MDO-NEURO",
                      "display": "Discuss in the neuro-oncology MDO"},
        },
        "suggestions": [
            {"label": "Verwijs", "uuid": "s1", "isRecommended": True, "actions": [
                {"type": "create", "description": "Maak aan", "resource": copy.deepcopy(SERVICE_REQUEST)},
                {"type": "create", "description": "Dexamethason", "resource": copy.deepcopy(MEDICATION_REQUEST)},
                {"type": "update", "description": "Pas aan", "resource": copy.deepcopy(SERVICE_REQUEST)},
                {"type": "delete", "description": "Verwijder", "resourceId": "ServiceRequest/sr1"},
            ]},
            {"label": "Niet nu", "uuid": "s2"},
        ],
        "selectionBehavior": "at-most-one",
        "overrideReasons": [{"system": "urn:x", "code": "emergency", "display": "Spoedsituatie"}],
        "links": [{"label": "Richtlijn", "url": "https://richtlijnendatabase.nl/", "type": "absolute"}],
    }


def test_the_valid_card_passes():
    check_card(valid_card())
    check_response({"cards": [valid_card()]})


def test_empty_cards_list_is_allowed():
    check_response({"cards": []})


def test_summary_of_139_characters_passes():
    card = valid_card()
    card["summary"] = "x" * 139
    check_card(card)


def _set(path: str, value: Any) -> Callable[[dict], None]:
    keys = path.split(".")

    def mutate(card: dict) -> None:
        target: Any = card
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()

BREACHES = [
    ("summary missing", _set("summary", _DELETE), "summary is required"),
    ("summary blank", _set("summary", "   "), "summary is required"),
    ("summary not text", _set("summary", 5), "summary is required"),
    ("summary 140 chars", _set("summary", "x" * 140), "140 characters"),
    ("indicator missing", _set("indicator", _DELETE), "indicator must be one of"),
    ("indicator unknown", _set("indicator", "hard-stop"), "indicator must be one of"),
    ("source missing", _set("source", _DELETE), "source.label is required"),
    ("source.label missing", _set("source.label", _DELETE), "source.label is required"),
    ("source.url relative", _set("source.url", "/guideline"), "source.url must be absolute"),
    ("source.topic without system", _set("source.topic.system", _DELETE), "system and code"),
    ("source.topic without code", _set("source.topic.code", _DELETE), "system and code"),
    ("suggestions without selectionBehavior", _set("selectionBehavior", _DELETE), "selectionBehavior is required"),
    ("unknown selectionBehavior", _set("selectionBehavior", "exactly-one"), "selectionBehavior is required"),
    ("suggestion without label", _set("suggestions.1.label", _DELETE), "suggestions[1].label is required"),
    ("two recommended with at-most-one", _set("suggestions.1.isRecommended", True), "selectionBehavior 'any'"),
    ("action type unknown", _set("suggestions.0.actions.0.type", "replace"), "type must be one of"),
    ("action without description", _set("suggestions.0.actions.0.description", _DELETE), "description is required"),
    ("create without resource", _set("suggestions.0.actions.0.resource", _DELETE), "needs a whole resource"),
    ("resource without resourceType", _set("suggestions.0.actions.0.resource.resourceType", _DELETE),
     "needs a whole resource"),
    ("ServiceRequest without intent", _set("suggestions.0.actions.0.resource.intent", _DELETE),
     "ServiceRequest lacks ['intent']"),
    ("ServiceRequest without code", _set("suggestions.0.actions.2.resource.code", _DELETE),
     "ServiceRequest lacks ['code']"),
    ("MedicationRequest without medication", _set("suggestions.0.actions.1.resource.medicationCodeableConcept",
                                                  _DELETE), "MedicationRequest lacks ['medication[x]']"),
    ("MedicationRequest without subject", _set("suggestions.0.actions.1.resource.subject", _DELETE),
     "MedicationRequest lacks ['subject']"),
    ("delete without resourceId", _set("suggestions.0.actions.3.resourceId", _DELETE), "delete needs resourceId"),
    ("delete with bare id", _set("suggestions.0.actions.3.resourceId", "sr1"), "delete needs resourceId"),
    ("override reason without display", _set("overrideReasons.0.display", _DELETE), "display is required"),
    ("override reason without code", _set("overrideReasons.0.code", _DELETE), "system and code"),
    ("link without type", _set("links.0.type", _DELETE), "label, url and type"),
    ("link with unknown type", _set("links.0.type", "relative"), "label, url and type"),
    ("link without label", _set("links.0.label", _DELETE), "label, url and type"),
    ("absolute link relative url", _set("links.0.url", "guideline.html"), "url must be absolute"),
    ("null optional field", _set("detail", None), "cards[0].detail: null or empty value"),
    ("empty string field", _set("detail", ""), "cards[0].detail: null or empty value"),
    ("empty list field", _set("links", []), "cards[0].links: null or empty value"),
    ("empty object field", _set("suggestions.1.extension", {}), "suggestions[1].extension: null or empty value"),
    ("nested null", _set("source.topic.display", None), "source.topic.display: null or empty value"),
]


@pytest.mark.parametrize("name, mutate, message", BREACHES, ids=[b[0] for b in BREACHES])
def test_each_breach_is_refused(name, mutate, message):
    card = valid_card()
    mutate(card)
    with pytest.raises(CardSpecError) as info:
        check_response({"cards": [card]})
    assert message in str(info.value)


def test_selection_behavior_without_suggestions_is_refused():
    card = valid_card()
    del card["suggestions"]
    with pytest.raises(CardSpecError, match="selectionBehavior without suggestions"):
        check_card(card)


def test_several_recommended_suggestions_allowed_with_any():
    card = valid_card()
    card["suggestions"][1]["isRecommended"] = True
    card["selectionBehavior"] = "any"
    check_card(card)


def test_smart_links_may_be_relative():
    card = valid_card()
    card["links"] = [{"label": "App", "url": "launch.html", "type": "smart"}]
    check_card(card)


@pytest.mark.parametrize("response, message", [
    ({}, "response.cards is required"),
    ({"cards": None}, "response.cards is required"),
    ({"cards": {}}, "response.cards is required"),
])
def test_response_needs_a_cards_list(response, message):
    with pytest.raises(CardSpecError, match=message):
        check_response(response)


def test_one_card_per_rule():
    with pytest.raises(CardSpecError, match="rule BM-MDO-NEURO produced more than one card"):
        check_response({"cards": [valid_card(), valid_card()]})


def test_system_actions_are_checked():
    check_response({"cards": [], "systemActions": [{"type": "delete", "description": "x",
                                                     "resourceId": "ServiceRequest/1"}]})
    with pytest.raises(CardSpecError, match=r"systemActions\[0\].description is required"):
        check_response({"cards": [], "systemActions": [{"type": "delete", "resourceId": "ServiceRequest/1"}]})


def test_check_action_update_needs_whole_resource():
    with pytest.raises(CardSpecError, match="update needs a whole resource"):
        check_action({"type": "update", "description": "x", "resourceId": "ServiceRequest/1"}, "a")


def test_fact_values_derivations_and_notes_are_worded_per_language():
    """The facts table of a Dutch card says 'mammacarcinoom', not the code 'breast' (cards/values.yaml)."""
    from datetime import datetime, timezone

    from cds_service.cards.actions import load_order_templates
    from cds_service.cards.render import Renderer
    from cds_service.cards.templates import load_templates
    from cds_service.facts.catalogue import load_fact_catalogue
    from cds_service.facts.model import Fact, Facts, Provenance
    from cds_service.pathways.model import EvalContext, Finding

    now = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    facts = Facts(values={
        "primary_tumour": Fact.of("primary_tumour", "breast", Provenance("Condition", "c1", date=now)),
        "largest_diameter_mm": Fact.of("largest_diameter_mm", 12.0, derived_from="lesions"),
        "csf_cytology_results": Fact.of("csf_cytology_results", ("negative", "positive")),
    }, now=now)
    finding = Finding("DATA-MISSING", facts_used=("primary_tumour", "largest_diameter_mm", "csf_cytology_results"))
    renderer = Renderer(load_templates(), load_fact_catalogue(), load_order_templates())
    detail_nl = renderer.card(finding, facts, EvalContext(now=now), "nl")["detail"]
    detail_en = renderer.card(finding, facts, EvalContext(now=now), "en")["detail"]
    assert "mammacarcinoom" in detail_nl and "breast cancer" in detail_en
    assert "afgeleid van laesiemetingen" in detail_nl
    assert "negatief, positief" in detail_nl  # chronological order kept


def test_update_action_leaves_out_the_empty_parts_of_a_half_filled_draft():
    """EHRs send half-filled drafts; the updated resource on the card must not carry nulls or empties."""
    from datetime import datetime, timezone

    from cds_service.cards.actions import build_update
    from cds_service.cards.validate import check_action

    draft = {"resourceType": "ServiceRequest", "id": "mri1", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/p1"}, "authoredOn": None, "note": [],
             "code": {"coding": [{}, {"system": "http://loinc.org", "code": "24935-9"}], "text": ""}}
    deadline = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
    resource = build_update(draft, {"priority": "stat", "occurrence_before": deadline})
    assert "authoredOn" not in resource and "note" not in resource
    assert resource["code"] == {"coding": [{"system": "http://loinc.org", "code": "24935-9"}]}
    assert resource["priority"] == "stat" and resource["occurrencePeriod"]["end"].startswith("2026-11-25T09:00")
    check_action({"type": "update", "description": "MRI", "resource": resource}, "action")
    assert draft["authoredOn"] is None  # the request's own data is not changed


# -- unfilled template placeholders (issue 15: "{last_mri}" reached clinicians) ------------------------------


@pytest.mark.parametrize("where", ["summary", "detail", "suggestion", "action", "link", "override"])
def test_a_leftover_placeholder_is_rejected(where):
    card = valid_card()
    text = "Laatste MRI: {last_mri}; volgende was nodig vanaf {due_date}."
    if where in ("summary", "detail"):
        card[where] = text
    elif where == "suggestion":
        card["suggestions"][0]["label"] = text
    elif where == "action":
        card["suggestions"][0]["actions"][0]["description"] = text
    elif where == "link":
        card["links"][0]["label"] = text
    else:
        card["overrideReasons"][0]["display"] = text
    with pytest.raises(CardSpecError, match=r"placeholder \{last_mri\} left unfilled"):
        check_card(card)


@pytest.mark.parametrize("text", ["{due_date!s}", "{deadline:%d-%m}", "{params[kps]}", "{order.display}"])
def test_every_placeholder_form_is_rejected(text):
    card = valid_card()
    card["detail"] = f"Uiterlijk {text}."
    with pytest.raises(CardSpecError, match="left unfilled"):
        check_card(card)


@pytest.mark.parametrize("text", ["SINS {0–18}", "set {a, b}", "escaped \\{last_mri\\} from the record", "{}", "{ x }"])
def test_braces_that_are_not_placeholders_pass(text):
    card = valid_card()
    card["detail"] = text
    check_card(card)
