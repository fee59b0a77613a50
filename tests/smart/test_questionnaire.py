"""The Questionnaire of missing facts, generated from the mappings and the fact catalogue, and the way back:
answers → Observations that the fact extractor reads as the same fact."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib import resources

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from cds_service.facts.catalogue import FactCatalogue, FactInfo, load_fact_catalogue
from cds_service.facts.extract import FactExtractor
from cds_service.facts.mapping import load_mappings
from cds_service.facts.model import Fact, Facts, FactStatus, Provenance
from cds_service.smart import questionnaire as q

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}


@pytest.fixture(scope="module")
def extractor() -> FactExtractor:
    return FactExtractor.load()


@pytest.fixture(scope="module")
def catalogue() -> FactCatalogue:
    return load_fact_catalogue()


@pytest.fixture(scope="module")
def displays() -> dict:
    return q.local_displays()


def every_fact(extractor, catalogue) -> list[str]:
    """Every fact a card can name as missing: the public facts and the catalogue's entries."""
    return list(dict.fromkeys([*extractor.fact_names, *catalogue.entries]))


def askables(extractor, catalogue, displays):
    names = every_fact(extractor, catalogue)
    return [a for n in names if (a := q.askable(extractor.mappings, n, catalogue, displays)) is not None]


def sample_answer(ask: q.AskableFact):
    if ask.item_type == "boolean":
        return True
    if ask.item_type == "integer":
        low, high = ask.low if ask.low is not None else 0, ask.high if ask.high is not None else 10
        return int((low + high) // 2)
    if ask.item_type == "decimal":
        low, high = ask.low if ask.low is not None else 0, ask.high if ask.high is not None else 10
        return float(low + high) / 2
    return ask.options[0]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_questionnaire_with_every_fact_missing_validates_against_r4(extractor, catalogue, displays, language):
    names = every_fact(extractor, catalogue)
    questionnaire = q.build_questionnaire(names, Facts(values={}), extractor.mappings, catalogue, displays,
                                          language=language, now=NOW)
    Questionnaire.model_validate(questionnaire)  # raises on any R4 violation
    questions = [i for i in questionnaire["item"] if i["type"] not in ("group", "display")]
    elsewhere = next(i for i in questionnaire["item"] if i["linkId"] == "ehr")["item"]
    assert len(questions) + len(elsewhere) == len(names)  # one item per missing fact
    assert len(questions) >= 40  # the facts clinicians record by hand (expected survival, MESCC, SINS …)
    for item in questions:
        assert item["text"] == catalogue.label(q.ASK_INSTEAD.get(item["linkId"], item["linkId"]), language)
        assert "initial" not in item  # nothing recorded → nothing pre-answered


def test_typical_hand_recorded_facts_are_asked_with_their_types(extractor, catalogue, displays):
    by_name = {a.name: a for a in askables(extractor, catalogue, displays)}
    survival = by_name["expected_survival_months"]
    assert (survival.item_type, survival.unit, survival.low, survival.high) == ("decimal", "mo", 0, 600)
    assert (survival.system, survival.code) == (q.LOCAL, "expected-survival")
    assert by_name["treatment_wish"].item_type == "boolean"
    assert by_name["kps_ge_70"].code == "89243-0" and by_name["kps_ge_70"].item_type == "integer"
    switch = by_name["systemic_switch_cns_response"]
    assert {o[1] for o in switch.options} == {"high", "low", "unknown", "none"}
    assert "brain_metastases" not in by_name  # a Condition: recorded in the EHR, not through the form


def test_every_askable_answer_is_read_back_as_the_same_fact(extractor, catalogue, displays):
    """The Observation written for an answer is what the input profile says: the extractor knows the fact."""
    failures = []
    for ask in askables(extractor, catalogue, displays):
        for value in (ask.options if ask.item_type == "choice" else (sample_answer(ask),)):
            obs = q.observation(q.Answer(ask=ask, value=value), patient="p1", author="Practitioner/d1",
                                when="2026-11-24T08:00:00Z", response_ref="QuestionnaireResponse/r1",
                                label=ask.display)
            Observation.model_validate(obs)
            facts = extractor.extract([PATIENT, {**obs, "id": "o1"}], now=NOW)
            if not facts[q.ASK_INSTEAD.get(ask.name, ask.name)].known:
                failures.append((ask.name, value))
    assert not failures, f"answers not read back as their fact: {failures}"


def test_a_new_fact_in_the_catalogue_appears_in_the_form_without_other_edits(extractor, catalogue, displays):
    package = resources.files("cds_service.mappings")
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in package.iterdir() if p.name.endswith(".yaml")]
    texts.append(("local.yaml", "format: neuro-onc-cds/fact-mapping/v1\nfacts:\n  pleural_effusion:\n"
                                "    resources: [Observation]\n    codes: [LOCAL pleural-effusion]\n"))
    mappings = load_mappings(texts=texts)
    extended = FactCatalogue(entries={**catalogue.entries, "pleural_effusion": FactInfo(
        name="pleural_effusion", label={"nl": "Pleuravocht", "en": "Pleural effusion"},
        why={"nl": "test", "en": "test"}, record="Observation LOCAL pleural-effusion, valueBoolean")})
    questionnaire = q.build_questionnaire(["pleural_effusion"], None, mappings, extended, displays, language="en",
                                          now=NOW)
    Questionnaire.model_validate(questionnaire)
    item = questionnaire["item"][0]
    assert (item["linkId"], item["type"], item["text"]) == ("pleural_effusion", "boolean", "Pleural effusion")
    assert item["code"][0] == {"system": q.LOCAL, "code": "pleural-effusion", "display": "pleural-effusion"}


def test_a_stale_record_value_is_the_initial_answer_with_its_date_and_source(extractor, catalogue, displays):
    stale = Fact(name="expected_survival_months", status=FactStatus.STALE, stale_value=6.0,
                 provenance=(Provenance("Observation", "old-1", date=datetime(2026, 5, 1, tzinfo=timezone.utc)),))
    facts = Facts(values={"expected_survival_months": stale})
    questionnaire = q.build_questionnaire(["expected_survival_months"], facts, extractor.mappings, catalogue,
                                          displays, language="en", now=NOW)
    item = questionnaire["item"][0]
    assert item["initial"] == [{"valueDecimal": 6.0}]
    shown = next(c["text"] for c in item["item"] if c["linkId"].endswith(".recorded"))
    assert "2026-05-01" in shown and "Observation/old-1" in shown and "confirm" in shown
    Questionnaire.model_validate(questionnaire)


def asked(extractor, catalogue, displays, *names):
    return {n: q.askable(extractor.mappings, n, catalogue, displays) for n in names}


def response(*items):
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": list(items)}


@pytest.mark.parametrize("language, words", [("en", "outside the allowed range 0–600"),
                                             ("nl", "buiten het toegestane bereik 0–600")])
def test_out_of_range_answers_are_refused_with_a_clear_message(extractor, catalogue, displays, language, words):
    with pytest.raises(q.AnswerError) as refused:
        q.read_answers(response({"linkId": "expected_survival_months", "answer": [{"valueDecimal": 900}]},
                                {"linkId": "kps_ge_70", "answer": [{"valueInteger": 140}]}),
                       asked(extractor, catalogue, displays, "expected_survival_months", "kps_ge_70"),
                       catalogue, language)
    messages = refused.value.messages
    assert [m["linkId"] for m in messages] == ["expected_survival_months", "kps_ge_70"]
    assert words in messages[0]["message"] and "900" in messages[0]["message"]


def test_wrong_types_unasked_questions_and_unknown_choices_are_refused(extractor, catalogue, displays):
    questions = asked(extractor, catalogue, displays, "treatment_wish", "kps_ge_70", "systemic_switch_cns_response")
    with pytest.raises(q.AnswerError) as refused:
        q.read_answers(response(
            {"linkId": "treatment_wish", "answer": [{"valueString": "yes"}]},
            {"linkId": "kps_ge_70", "answer": [{"valueDecimal": 75.5}]},
            {"linkId": "systemic_switch_cns_response", "answer": [{"valueCoding": {"system": q.LOCAL, "code": "maybe"}}]},
            {"linkId": "mescc", "answer": [{"valueBoolean": True}]}), questions, catalogue, "en")
    assert [m["linkId"] for m in refused.value.messages] == [
        "treatment_wish", "kps_ge_70", "systemic_switch_cns_response", "mescc"]


def test_valid_answers_become_a_questionnaire_response_and_observations(extractor, catalogue, displays):
    questions = asked(extractor, catalogue, displays, "expected_survival_months", "treatment_wish", "kps_ge_70")
    answers = q.read_answers(response(
        {"linkId": "expected_survival_months", "answer": [{"valueQuantity": {"value": 12, "code": "mo"}}]},
        {"linkId": "treatment_wish", "answer": [{"valueBoolean": False}]},
        {"linkId": "kps_ge_70", "answer": [{"valueInteger": 80}]},
        {"linkId": "systemic_switch_cns_response", "answer": []}), questions, catalogue, "en")
    assert [(a.ask.name, a.value) for a in answers] == [
        ("expected_survival_months", 12.0), ("treatment_wish", False), ("kps_ge_70", 80)]
    qr = q.questionnaire_response(answers, patient="p1", author="Practitioner/d1", when="2026-11-24T08:00:00Z")
    QuestionnaireResponse.model_validate(qr)
    assert qr["author"] == {"reference": "Practitioner/d1"} and qr["questionnaire"] == q.QUESTIONNAIRE_URL
    observations = [q.observation(a, patient="p1", author="Practitioner/d1", when="2026-11-24T08:00:00Z",
                                  response_ref="QuestionnaireResponse/r1", label="x") for a in answers]
    facts = extractor.extract([PATIENT, *({**o, "id": f"o{i}"} for i, o in enumerate(observations))], now=NOW)
    assert facts["expected_survival_months"].value == 12.0
    assert facts["treatment_wish"].value is False
    assert facts["kps"].value == 80 and facts["kps_ge_70"].value is True
    assert facts["kps"].provenance[0].reference in ("Observation/o2",)
