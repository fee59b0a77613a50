"""Every card of every fixture case, in Dutch and English, read as a clinician reads it (issue 15).

The cards come from ``cards_corpus`` (all of ``fixtures/cases/*.yaml`` through the real engine). Checked: the
length targets (90% of details ≤ 1,200 characters, none over 2,500), one language per card (a word-list
heuristic: common words of the other language that the card's language does not share), no internal words
(rule ids, step codes, seed numbers, FHIR ids and codes, hook names), no template placeholder left, and dates on
Dutch cards in Dutch form.
"""

from __future__ import annotations

import re

import pytest
from cards_corpus import render_all

from cds_service.cards.validate import leftover_placeholder

CARDS = render_all()
DETAIL_P90_MAX = 1200
DETAIL_MAX = 2500

# Common words of one language that are not words (or not likely words) of the other. Free text quoted from the
# record (a dosage "3 mg 2× daags") is shown as written, so record words ("daags") are not listed.
ENGLISH_WORDS = frozenset("""
the and with without recorded unknown months weeks days hours discuss refer consider order deficit spine brain
treatment surgery within before after from should must missing record this that which when not yes none asap
daily twice these those their there been being than into also only where whose could would patient's
symptoms findings required advice needed since until above below between every each other another
to for by at on an or are has have will can may it its see draft referral performance survival expected wish
executing centre radiotherapy radiation oncologist surgeon neurologist order orders twice daily scan luminal basal
""".split())
DUTCH_WORDS = frozenset("""
de het een en van met zonder niet bij voor naar nog geen ook wordt worden maanden weken dagen vastgelegd
onbekend bespreek verwijs overweeg ja nee uitval wervelkolom hersenen behandeling patiënt vóór binnen heeft
zijn dit deze die wanneer tijdens sinds nodig gegevens klachten richtlijn daarna eerst maar alleen
aanvraag uur jaar maand dag bij te om na tot zo snel mogelijk overleg verwijzing bespreking
""".split())
INTERNAL = [
    (re.compile(r"\bseed\b", re.I), "seed number"),
    (re.compile(r"regelcatalogus|rule catalog", re.I), "rule catalog"),
    (re.compile(r"\((?:00\d)(?:[ ,§][^)]*)?\)|\b00\d §"), "seed document number"),
    (re.compile(r"\bOCR\b"), "OCR"),
    (re.compile(r"\b(?:BM|SM|LM|RT|PROG|DATA)-[A-Z][A-Z0-9-]+\b"), "rule id"),
    (re.compile(r"\b(?:R|M|A|D|N)\d{1,2}\b(?!\s*[-–]\s*[LSTC]?\d)|\b[A-Z]\d: "), "flowchart step code"),
    (re.compile(r"order-select|order-sign|patient-view"), "hook name"),
    (re.compile(r"\bLOCAL\b"), "LOCAL code system"),
    (re.compile(r"\b(?:Observation|Condition|Procedure|ServiceRequest|MedicationRequest|ImagingStudy|Encounter)/"),
     "FHIR id"),
    (re.compile(r"\b(?:LOINC|SNOMED|valueQuantity|valueBoolean|valueCodeableConcept|FHIR)\b"), "FHIR code"),
    (re.compile(r"^\*\*Order:?\*\*|^Order:", re.M), "Order line"),
    (re.compile(r"\bde service\b|\bthe service\b", re.I), "'de service' (het systeem)"),
]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-zà-ÿ']+", text.lower())


def _created_texts(resource: dict) -> list[str]:
    """What a clinician reads in a resource a card creates: its name, dosage and note (one language)."""
    code = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    return [code.get("text", ""), *(d.get("text", "") for d in resource.get("dosageInstruction", [])),
            *(n.get("text", "") for n in resource.get("note", []))]


def _texts(card: dict) -> list[str]:
    c = card["card"]
    actions = [a for s in c.get("suggestions", []) for a in s.get("actions", [])]
    return [c["summary"], c["detail"], *(s["label"] for s in c.get("suggestions", [])),
            *(a["description"] for a in actions),
            *(t for a in actions if a["type"] == "create" for t in _created_texts(a["resource"])),
            *(r["display"] for r in c.get("overrideReasons", []))]


def _ids(card: dict) -> str:
    return f"{card['rule']} {card['language']} ({card['case']}, {card['service']})"


def test_the_corpus_covers_every_rule_in_both_languages():
    rules = {(c["rule"], c["language"]) for c in CARDS}
    assert len({r for r, _ in rules}) >= 35
    assert {r for r, lang in rules if lang == "nl"} == {r for r, lang in rules if lang == "en"}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_details_are_short(language):
    lengths = sorted(len(c["detail"]) for c in CARDS if c["language"] == language)
    over = [f"{_ids(c)}: {len(c['detail'])}" for c in CARDS if c["language"] == language and len(c["detail"]) > DETAIL_MAX]
    assert not over, f"details over {DETAIL_MAX} characters: {over}"
    share = sum(n <= DETAIL_P90_MAX for n in lengths) / len(lengths)
    assert share >= 0.9, f"{language}: only {share:.0%} of details ≤ {DETAIL_P90_MAX} characters"


def test_no_english_on_dutch_cards():
    found = {}
    for card in CARDS:
        if card["language"] == "nl":
            hits = sorted({w for t in _texts(card) for w in _words(t) if w in ENGLISH_WORDS})
            if hits:
                found[_ids(card)] = hits
    assert not found, f"English words on {len(found)} Dutch cards: {dict(list(found.items())[:15])}"


def test_no_dutch_on_english_cards():
    found = {}
    for card in CARDS:
        if card["language"] == "en":
            hits = sorted({w for t in _texts(card) for w in _words(t) if w in DUTCH_WORDS})
            if hits:
                found[_ids(card)] = hits
    assert not found, f"Dutch words on {len(found)} English cards: {dict(list(found.items())[:15])}"


def test_no_internal_words():
    found = {}
    for card in CARDS:
        for text in _texts(card) + [card["card"]["source"]["label"]]:
            for pattern, what in INTERNAL:
                match = pattern.search(text)
                if match:
                    found.setdefault(_ids(card), set()).add(f"{what}: {match.group(0)!r}")
    assert not found, f"internal words on {len(found)} cards: {dict(list(found.items())[:15])}"


def test_created_orders_are_named_in_the_card_language():
    """Not "Neuro-oncologisch MDO / neuro-oncology MDO": the name of the order in the card's language only."""
    from cds_service.cards.actions import load_order_templates

    names = {lang: {e["display"][lang] for e in load_order_templates().entries.values()} for lang in ("nl", "en")}
    checked = 0
    for card in CARDS:
        for s in card["card"].get("suggestions", []):
            for action in s.get("actions", []):
                if action["type"] == "create":
                    resource = action["resource"]
                    text = (resource.get("code") or resource.get("medicationCodeableConcept"))["text"]
                    assert text in names[card["language"]], (_ids(card), text)
                    checked += 1
    assert checked > 50


def test_no_placeholder_left():
    left = {_ids(c): leftover_placeholder(t) for c in CARDS for t in _texts(c) if leftover_placeholder(t)}
    assert not left


def test_dutch_cards_write_dates_in_dutch_form():
    iso = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|T\d{2}:\d{2}")
    found = {_ids(c): iso.search(t).group(0) for c in CARDS if c["language"] == "nl" for t in _texts(c)
             if iso.search(t)}
    assert not found, f"ISO dates on Dutch cards: {dict(list(found.items())[:15])}"
    assert any(re.search(r"\b\d{2}-\d{2}-\d{4}\b", c["detail"]) for c in CARDS if c["language"] == "nl")
