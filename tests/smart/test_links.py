"""The ``smart`` link on the cards that name missing facts."""

from __future__ import annotations

from cds_service.pathways.model import Finding
from cds_service.smart.links import add_smart_links


def card(rule: str) -> dict:
    return {"summary": rule, "indicator": "info", "source": {"label": "x", "topic": {"code": rule}}}


def test_data_missing_and_cards_naming_missing_facts_get_one_smart_link():
    response = {"cards": [card("DATA-MISSING"), card("BM-MDO-INFO-MISSING"), card("PROG-RPA")]}
    findings = [Finding(rule_id="DATA-MISSING", facts_missing=("expected_survival_months",)),
                Finding(rule_id="BM-MDO-INFO-MISSING", facts_missing=("anticoagulation",)),
                Finding(rule_id="PROG-RPA", facts_used=("kps",))]
    add_smart_links(response, findings, base_url="https://cds.example.org/", service_id="brain-metastases",
                    language="en")
    add_smart_links(response, findings, base_url="https://cds.example.org/", service_id="brain-metastases",
                    language="en")  # idempotent
    first, second, third = response["cards"]
    assert first["links"] == [{"label": "Record the missing data", "type": "smart",
                               "url": "https://cds.example.org/smart/launch?service=brain-metastases"}]
    assert second["links"] == first["links"]
    assert "links" not in third


def test_no_missing_facts_no_link_and_existing_links_are_kept():
    response = {"cards": [{**card("SM-RED-FLAG"), "links": [{"label": "g", "url": "https://g", "type": "absolute"}]}]}
    add_smart_links(response, [Finding(rule_id="SM-RED-FLAG")], base_url="http://x", service_id="spinal-metastases",
                    language="nl")
    assert response["cards"][0]["links"] == [{"label": "g", "url": "https://g", "type": "absolute"}]
    response = {"cards": [card("DATA-MISSING")]}
    add_smart_links(response, [Finding(rule_id="DATA-MISSING", facts_missing=("mescc",))], base_url="http://x",
                    service_id="spinal-metastases", language="nl")
    assert response["cards"][0]["links"][0]["label"] == "Ontbrekende gegevens vastleggen"
