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


def _plain(text: str) -> str:
    return click.unstyle(text)


def test_card_shows_everything_a_clinician_needs() -> None:
    text = render_card(CARD, language="en")
    assert "\x1b[" not in text  # plain unless asked
    assert text.splitlines()[0] == " CRITICAL  Discuss in the neuro-oncology MDO before radiotherapy"
    assert "Source: Richtlijn Hersenmetastasen <https://richtlijnendatabase.nl/x>  [BM-MDO-RT]" in text
    assert "    Line one.  " in text or "    Line one.\n" in text
    assert "    • bullet" in text  # the detail's Markdown is rendered (a list item), indented
    assert "Suggestions (choose at most one):" in text
    assert "  > Refer to the MDO  (recommended)" in text
    assert "create ServiceRequest: MDO referral" in text
    assert "delete ServiceRequest/sr-1: Withdraw the RT referral" in text
    assert "  > Guideline: https://richtlijnendatabase.nl/x" in text
    assert "Override reasons: Already discussed" in text


def test_labels_are_in_the_cards_language() -> None:
    text = render_card(CARD, language="nl")
    assert "Bron: Richtlijn Hersenmetastasen" in text
    assert "Suggesties (kies er hoogstens één):" in text
    assert "(aanbevolen)" in text
    assert "Redenen om af te wijken: Already discussed" in text
    assert "Source:" not in text and "Suggestions" not in text
    call = ServiceCall("brain-metastases", "http://x", 200, {"cards": []}, 5, language="nl-NL")
    assert "0 kaarten" in render_call(call) and "geen advies voor deze patiënt" in render_call(call)


def test_markdown_is_rendered_and_wrapped_to_the_width() -> None:
    detail = ("**Why this card**\n\n" + "word " * 60 + "\n\n| Fact | Value |\n|---|---|\n| KPS | 80 |")
    text = render_card({**CARD, "detail": detail}, width=60)
    assert "**" not in text and "|---|" not in text  # bold and the table are rendered, not shown raw
    assert "Why this card" in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 60
    assert any(line.split() == ["KPS", "80"] for line in text.splitlines())


def test_indicator_colours() -> None:
    for indicator, colour in (("critical", "41"), ("warning", "43"), ("info", "46")):
        styled = render_card({"summary": "s", "indicator": indicator, "source": {"label": "x"}}, color=True)
        assert f"{colour}m" in styled.split(" s")[0]  # background colour of the badge


def test_no_color_is_honoured(monkeypatch) -> None:
    from cds_service.terminal import console
    import io

    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, but the user asked for no colour
    buffer = io.StringIO()
    from cds_service.ehr.render import card_renderable

    console(buffer).print(card_renderable({"summary": "s", "indicator": "critical", "source": {"label": "x"}}))
    out = buffer.getvalue()
    assert "CRITICAL" in out
    assert not any(f"[{code}m" in out or f";{code}m" in out for code in ("31", "41", "43", "46"))


def test_control_characters_from_the_card_are_not_printed() -> None:
    card = {**CARD, "summary": "Evil\x1b[2J\x1b]0;title\x07 summary\u202e", "detail": "ok \x1b[31mred\x07 text",
            "suggestions": [{"label": "go\rback\x08", "uuid": "s"}]}
    text = render_card(card)
    assert "\x1b" not in text and "\x07" not in text and "\x08" not in text and "\u202e" not in text
    assert "Evil summary" in text and "ok red text" in text and "> go back" in text


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
    assert "missing (required): patient -> fetch failed: connection failed (ConnectionError)" in text
    assert "unavailable (optional): procedures -> fetch failed" in text


def test_render_412_groups_keys_that_failed_for_the_same_reason() -> None:
    down = "fetch failed: connection failed (ConnectionError)"
    body = {"error": "precondition-failed", "message": "m",
            "missing": [{"key": k, "query": "q", "reason": down} for k in ("patient", "conditions")],
            "unavailable": [{"key": k, "query": "q", "reason": down} for k in ("procedures", "encounters")]}
    lines = render_call(ServiceCall("svc", "http://x", 412, body, 7), language="en", width=200).splitlines()
    assert [line.strip() for line in lines[2:]] == [
        "precondition-failed: m",
        f"missing (required): patient, conditions -> {down}",
        f"unavailable (optional): procedures, encounters -> {down}",
    ]


def test_render_non_json_error() -> None:
    text = _plain(render_call(ServiceCall("x", "http://x", 502, "<html>Bad gateway</html>", 1)))
    assert "HTTP 502" in text and "<html>Bad gateway</html>" in text
