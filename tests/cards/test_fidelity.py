"""Cards say what the sources say (issue 15, item 6; catalog §2, §3c, §1a, §6), on the fixture patients' cards.

One test per point: dexamethasone *start now* only for clinical cord/cauda compression; the treatment timeline
counted from the definitive diagnosis only; the whole-brain RT guard asks for the MDO without calling the referral
forbidden; RT-MDO-INCOMPLETE states the action; BM-MDO-ORGAN keeps LWNO's precondition and "now"; DATA-MISSING
names the missing facts in its summary; SM-RED-FLAG says which red flag fired and does not shout.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from cards_corpus import engine, evaluations, render_all

CARDS = render_all()


def cards_of(rule: str, case: str | None = None, language: str | None = None) -> list[dict]:
    found = [c for c in CARDS if c["rule"] == rule and (case is None or c["case"] == case)
             and (language is None or c["language"] == language)]
    assert found, f"no {rule} card for {case or 'any case'} ({language or 'any language'})"
    return found


def response(case: str, language: str) -> list[dict]:
    return [c for c in CARDS if c["case"] == case and c["language"] == language]


START_NOW = {"nl": re.compile(r"[Ss]tart (direct )?dexamethason"), "en": re.compile(r"[Ss]tart dexamethasone now")}
DETERMINE = {"nl": "Bepaal de indicatie voor corticosteroïden", "en": "Decide on corticosteroids"}


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("case", ["sm-mri-unilateral-deficit-7d", "sm-mri-unilateral-deficit-8d"])
def test_one_sided_radicular_deficit_gets_no_start_now_card(case, language):
    """003: a one-sided radicular deficit is not clinical MESCC — determine the indication, do not start now."""
    cards = response(case, language)
    assert "SM-DEXAMETHASONE" not in {c["rule"] for c in cards}
    assert not any(START_NOW[language].search(c["summary"] + c["detail"]) for c in cards)
    [mri] = [c for c in cards if c["rule"] == "SM-MRI-URGENCY"]
    assert DETERMINE[language] in mri["detail"]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("case", ["sm-red-flag-bladder", "sm-mri-incomplete-lesion", "sm-mri-bilateral-deficit"])
def test_clinical_cord_or_cauda_compression_starts_dexamethasone_now(case, language):
    [card] = cards_of("SM-DEXAMETHASONE", case, language)
    assert START_NOW[language].search(card["summary"]) and START_NOW[language].search(card["detail"])
    assert {"nl": "klinische myelum-/caudacompressie", "en": "clinical cord/cauda compression"}[language] in (
        card["detail"])


WINDOWS = {timedelta(hours=24), timedelta(hours=72), timedelta(days=7), timedelta(days=14)}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_treatment_timeline_counts_from_the_definitive_diagnosis_only(language):
    """003: the clock starts at the definitive diagnosis — never at the recording of the complaints."""
    for case_id, _service, lang, evaluation in evaluations():
        if lang != language:
            continue
        for finding in evaluation.findings:
            if finding.rule_id != "SM-TREATMENT-TIMELINE" or finding.params.get("deadline") is None:
                continue
            diagnosis = finding.params["diagnosis"]
            window = finding.params["deadline"] - diagnosis
            assert window in WINDOWS, (case_id, window)
    for card in cards_of("SM-TREATMENT-TIMELINE", language=language):
        assert {"nl": "na de definitieve diagnose", "en": "after the definitive diagnosis"}[language] in card["detail"] \
            or {"nl": "vanaf de definitieve diagnose", "en": "from the definitive diagnosis"}[language] in card["detail"]
        assert not re.search(r"vastleggen van de klachten|complaints were recorded", card["detail"])


@pytest.mark.parametrize("language", ["nl", "en"])
def test_whole_brain_rt_guard_asks_for_the_mdo_and_does_not_forbid(language):
    card = cards_of("RT-DIRECT-REFERRAL-BLOCKED", "ord-wbrt-no-mdo", language)[0]
    text = card["summary"] + "\n" + card["detail"]
    assert {"nl": "De richtlijn vraagt", "en": "The guideline asks for"}[language] in card["detail"]
    assert not re.search(r"niet (meer )?toegestaan|not (be )?allowed|no longer|verboden|forbidden", text)
    assert card["card"]["indicator"] == "warning"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_mdo_incomplete_states_the_action(language):
    for card in cards_of("RT-MDO-INCOMPLETE", "ord-mdo-incomplete", language):
        assert {"nl": "bespreek opnieuw", "en": "discuss again"}[language] in card["summary"]
        assert card["detail"].startswith({"nl": "**Bespreek opnieuw met ", "en": "**Discuss again with "}[language])
        assert {"nl": "leg hen vast als deelnemer", "en": "record them as participants"}[language] in card["detail"]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_organ_mdo_keeps_the_lwno_precondition_and_now(language):
    for card in cards_of("BM-MDO-ORGAN", language=language):
        assert {"nl": "Nu geen neuro-oncologisch MDO nodig", "en": "needed now"}[language] in card["summary"]
        assert {"nl": "als daar duidelijk is dat nu geen lokale behandeling",
                "en": "when it is clear there that no local treatment"}[language] in card["detail"]
        assert "**geen lokale behandeling" not in card["detail"] and "**no local treatment" not in card["detail"]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_data_missing_summary_names_the_missing_facts(language):
    catalogue = engine().catalogue
    for case_id, _service, lang, evaluation in evaluations():
        if lang != language:
            continue
        for finding, card in zip(evaluation.findings, evaluation.response["cards"]):
            if finding.rule_id != "DATA-MISSING":
                continue
            first = catalogue.label(finding.facts_missing[0], language)
            assert first.lower() in card["summary"].lower(), (case_id, card["summary"])
            assert card["summary"].startswith({"nl": "Leg vast", "en": "Record"}[language])


ACRONYMS = {"MESCC", "ESCC", "SINS", "NOMS", "WBRT", "MRI", "KPS", "ECOG", "LWNO", "SRS", "SRT", "BRAF", "EGFR", "IKNL"}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_red_flag_names_the_flag_and_does_not_shout(language):
    for card in cards_of("SM-RED-FLAG", language=language):
        match = re.search({"nl": r"Rode vlag: ([^.]+)\.", "en": r"Red flag: ([^.]+)\."}[language], card["detail"])
        assert match and len(match.group(1)) > 5, card["detail"]
        shouting = {w for w in re.findall(r"\b[A-Z]{4,}\b", card["summary"] + card["detail"]) if w not in ACRONYMS}
        assert not shouting, shouting
    [deficit] = cards_of("SM-RED-FLAG", "sm-red-flag-deficit", language)
    assert {"nl": "neurologische uitval", "en": "neurological deficit"}[language] in deficit["detail"].split(
        {"nl": "Rode vlag: ", "en": "Red flag: "}[language])[1]
