"""Cards in the terminal: indicator, summary, source, detail, suggestions with actions, links, errors."""

from __future__ import annotations

import click

from cds_service.ehr.client import ServiceCall
from cds_service.ehr.render import render_call, render_card

CARD = {
    "uuid": "c1",
    "summary": "Discuss in the neuro-oncology MDO before radiotherapy",
    "indicator": "critical",
    "source": {"label": "Richtlijn Hersenmetastasen", "url": "https://richtlijnendatabase.nl/x",
               "topic": {"system": "https://x/rules", "code": "BM-MDO-RT", "display": "MDO first"}},
    "detail": "Line one.\n\n\n\n- bullet",
    "selectionBehavior": "at-most-one",
    "suggestions": [{"label": "Refer to the MDO", "uuid": "s1", "isRecommended": True, "actions": [
        {"type": "create", "description": "MDO referral", "resource": {"resourceType": "ServiceRequest"}},
        {"type": "delete", "description": "Withdraw the RT referral", "resourceId": "ServiceRequest/sr-1"}]}],
    "links": [{"label": "Guideline", "url": "https://richtlijnendatabase.nl/x", "type": "absolute"}],
    "overrideReasons": [{"system": "https://x/override", "code": "discussed", "display": "Already discussed"}],
}


def _plain(lines) -> str:
    return click.unstyle("\n".join(lines) if isinstance(lines, list) else lines)


def test_card_shows_everything_a_clinician_needs() -> None:
    text = _plain(render_card(CARD))
    assert text.splitlines()[0] == " CRITICAL  Discuss in the neuro-oncology MDO before radiotherapy"
    assert "Source: Richtlijn Hersenmetastasen <https://richtlijnendatabase.nl/x>  [BM-MDO-RT]" in text
    assert "    Line one.\n\n    - bullet" in text  # detail indented, runs of blank lines collapsed
    assert "Suggestions (choose at most one):" in text
    assert "  > Refer to the MDO  (recommended)" in text
    assert "create ServiceRequest: MDO referral" in text
    assert "delete ServiceRequest/sr-1: Withdraw the RT referral" in text
    assert "  > Guideline: https://richtlijnendatabase.nl/x" in text
    assert "Override reasons: Already discussed" in text


def test_indicator_colours() -> None:
    for indicator, colour in (("critical", "41"), ("warning", "43"), ("info", "46")):
        styled = render_card({"summary": "s", "indicator": indicator, "source": {"label": "x"}})[0]
        assert f"\x1b[{colour}m" in styled  # background colour of the badge


def test_render_call_with_cards() -> None:
    call = ServiceCall("brain-metastases", "http://x", 200, {"cards": [CARD, {**CARD, "indicator": "info"}]}, 12.3)
    text = _plain(render_call(call, "patient-view"))
    assert text.startswith("brain-metastases (patient-view): 2 cards, 12 ms")
    assert text.count("Discuss in the neuro-oncology MDO") == 2


def test_render_call_without_cards_says_so() -> None:
    text = _plain(render_call(ServiceCall("spinal-metastases", "http://x", 200, {"cards": []}, 5)))
    assert "0 cards" in text and "(no cards: no advice for this patient)" in text


def test_render_412_names_the_missing_keys() -> None:
    body = {"error": "precondition-failed", "message": "Required data could not be obtained: patient",
            "missing": [{"key": "patient", "query": "Patient/{{context.patientId}}",
                         "reason": "fetch failed: connection failed (ConnectionError)"}],
            "unavailable": [{"key": "procedures", "query": "Procedure?patient={{context.patientId}}",
                             "reason": "fetch failed"}]}
    text = _plain(render_call(ServiceCall("brain-metastases", "http://x", 412, body, 7)))
    assert "HTTP 412" in text
    assert "precondition-failed: Required data could not be obtained: patient" in text
    assert ("missing (required): patient = Patient/{{context.patientId}} -> fetch failed: connection failed "
            "(ConnectionError)") in text
    assert "unavailable (optional): procedures" in text


def test_render_non_json_error() -> None:
    text = _plain(render_call(ServiceCall("x", "http://x", 502, "<html>Bad gateway</html>", 1)))
    assert "HTTP 502" in text and "<html>Bad gateway</html>" in text
