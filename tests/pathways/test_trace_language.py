"""The flowchart trace of every finding is worded in each language (nl, the default, and en).

The trace is no longer printed on the card (issue 15: the card leads with the advice and the deciding facts);
it stays on every Finding for the logs, the rule documentation and the tests. Every fixture case
(``fixtures/cases/*.yaml`` with its patient bundle) runs through the engine in Dutch and in English, like
``tests/test_fixture_cases.py``. For every finding, the Dutch trace must hold no English-only line, and must
differ from the English one (same number of steps). Plus the mechanism itself: bilingual trace lines stay hashable and de-duplicate
(the engine merges DATA-MISSING traces with ``dict.fromkeys``), and the flowchart walker words its
answers per language.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import pytest
import yaml

from cds_service.ehr.fixtures import case_context
from cds_service.facts.model import Facts
from cds_service.fhir.parse import parse_datetime
from cds_service.pathways import brain, leptomeningeal, prognosis, referral, sins, spine
from cds_service.pathways.brain_walk import All, Atom, Walk, combine, explore
from cds_service.pathways.model import Finding, LocalizedText, text_in, tr

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DEFAULT_NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
USER = "Practitioner/fixture-clinician"
# Words that only an English trace line would hold (the Dutch lines say ja/nee/onbekend/vastgelegd …);
# not "start" (Dutch too) nor "sign" (the hook name order-sign).
ENGLISH = re.compile(r"\b(yes|no|unknown|recorded|metastases|metastasis|the|and|with|without|not|months|weeks|days|"
                     r"branch|decides|needs|due|since|draft|pain|deficit|spine|brain|survival|treatment|primary|tumour|"
                     r"present|missing|items|information|outcome|flowchart|node|symptoms|stable|unstable|potentially|"
                     r"cancer|condition|known|lesion|surgery|compression|clinical|radiological|advice|cytology|"
                     r"confirmed|positive|negative|breast|melanoma|lung|after|now|group|median|from|for|on)\b")


def _cases() -> list[dict]:
    cases = []
    for path in sorted((FIXTURES / "cases").glob("*.yaml")):
        cases += [dict(case, _file=path.name) for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    return [c for c in cases if c.get("expect")]


CASES = _cases()


@lru_cache(maxsize=1)
def _engine():
    from cds_service.engine import Engine

    return Engine.load()


def _cards(case: Mapping[str, Any], service_id: str, language: str) -> dict[str, dict]:
    """The cards of one service for the case, by rule id."""
    from cds_service.engine import PatientData
    from cds_service.services import SERVICES_BY_ID

    service = SERVICES_BY_ID[service_id]
    pid = case.get("patient", case["id"])
    bundle = json.loads((FIXTURES / "patients" / f"{pid}.json").read_text(encoding="utf-8"))
    data = PatientData(resources=tuple(e["resource"] for e in bundle.get("entry", [])),
                       unavailable=frozenset(case.get("unavailable") or ()))
    now = parse_datetime(case["now"]) if case.get("now") else DEFAULT_NOW
    context = case_context(case, service.hook, user_id=USER)
    evaluation = _engine().evaluate(service, context, data, now=now, language=language)
    cards = {card["source"]["topic"]["code"] for card in evaluation.response["cards"]}
    findings = {f.rule_id: f for f in evaluation.findings}
    assert set(findings) == cards
    return findings


def _why(finding: Finding, language: str) -> list[str]:
    """The trace lines of a finding in ``language``."""
    return [text_in(line, language) for line in finding.trace]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_dutch_cards_give_their_reasons_in_dutch(case: dict) -> None:
    checked = 0
    for service_id in sorted(case["expect"]):
        nl_cards, en_cards = _cards(case, service_id, "nl"), _cards(case, service_id, "en")
        assert set(nl_cards) == set(en_cards)
        for rule_id, card in nl_cards.items():
            nl, en = _why(card, "nl"), _why(en_cards[rule_id], "en")
            where = f"{case['id']} [{service_id}] {rule_id}"
            assert len(nl) == len(en), f"{where}: {len(nl)} Dutch steps, {len(en)} English steps"
            english = [line for line in nl if ENGLISH.search(line)]
            assert not english, f"{where}: English in the Dutch trace: {english}"
            if nl:
                assert nl != en, f"{where}: the Dutch trace is the English one: {nl}"
                checked += 1
    assert checked or not any(case["expect"].values()), f"{case['id']}: no card with a trace"


def test_the_fixtures_cover_every_pathway() -> None:
    """Each pathway module's cards (besides DATA-MISSING) are among the fixture cases checked above."""
    fired = {rule for case in CASES for rules in case["expect"].values() for rule in rules or ()}
    for module in (brain, spine, sins, leptomeningeal, prognosis, referral):
        assert fired & (set(module.RULES) - {"DATA-MISSING"}), f"{module.__name__}: no fixture case"
    assert "DATA-MISSING" in fired


# -- the mechanism -----------------------------------------------------------------------------------


def test_bilingual_lines_are_hashable_and_deduplicate() -> None:
    a = tr("A2: kritieke locatie? → ja", "A2: critical location? → yes")
    b = LocalizedText({"en": "A2: critical location? → yes", "nl": "A2: kritieke locatie? → ja"})
    assert a == b and hash(a) == hash(b)
    assert list(dict.fromkeys((a, "R3: SINS 13 > 12", b))) == [a, "R3: SINS 13 > 12"]
    assert (str(a), a.get("nl"), a.get("de")) == ("A2: critical location? → yes", "A2: kritieke locatie? → ja",
                                                  "A2: critical location? → yes")


def test_the_engine_merges_repeated_data_missing_lines() -> None:
    from cds_service.engine import merge_findings

    line = tr("A1: verwachte overleving onbekend", "A1: expected survival unknown")
    merged = merge_findings([Finding("DATA-MISSING", facts_missing=("kps",), trace=(line,)),
                             Finding("DATA-MISSING", facts_missing=("kps",), trace=(tr(line.get("nl"), str(line)),))])
    assert [f.trace for f in merged] == [(line,)]


@pytest.mark.parametrize("value,nl,en", [
    (True, "A1: KPS ≥ 70 en verwachte overleving > 3 maanden? → ja",
     "A1: KPS ≥ 70 and expected survival > 3 months? → yes"),
    (False, "A1: KPS ≥ 70 en verwachte overleving > 3 maanden? → nee",
     "A1: KPS ≥ 70 and expected survival > 3 months? → no"),
])
def test_the_walker_answers_in_each_language(value: bool, nl: str, en: str) -> None:
    walk = Walk()
    kps = Atom("kps>=70", "KPS ≥ 70", True, ("kps",))
    survival = Atom("survival>3", tr("verwachte overleving > 3 maanden", "expected survival > 3 months"), value,
                    ("expected_survival_months",))
    walk.decide("A1", tr("KPS ≥ 70 en verwachte overleving > 3 maanden?",
                         "KPS ≥ 70 and expected survival > 3 months?"), All(kps, survival))
    assert walk.trace == [LocalizedText({"nl": nl, "en": en})]


def test_forks_and_unknowns_are_worded_in_each_language() -> None:
    critical = Atom("critical", tr("kritieke locatie", "critical location"), None, ("critical_location",))

    def same(walk: Walk) -> list[Finding]:
        walk.decide("A2", tr("kritieke locatie?", "critical location?"), critical)
        return [Finding("SAME", facts_used=("critical_location",), trace=tuple(walk.trace))]

    def different(walk: Walk) -> list[Finding]:
        return [Finding("A" if walk.decide("A2", tr("kritieke locatie?", "critical location?"), critical) else "B")]

    combined = combine(explore(same), Facts.from_values())
    assert combined.findings[0].trace[0] == LocalizedText({
        "nl": "A2: kritieke locatie? → ja, in de tak waarin 'kritieke locatie' ja is (onbekend: beide takken zijn "
              "gevolgd)",
        "en": "A2: critical location? → yes on the branch where 'critical location' is yes (unknown: both branches "
              "were followed)",
    })
    missing = combine(explore(different), Facts.from_values()).missing
    assert missing.trace == (LocalizedText({
        "nl": "A2: kritieke locatie? → onbekend ('kritieke locatie') — bepaalt A, B",
        "en": "A2: critical location? → unknown ('critical location') — decides A, B",
    }),)
