"""Missing facts → a FHIR R4 Questionnaire, and its answers → Observations.

Pure functions of the fact mappings (``mappings/*.yaml``), the fact catalogue
(``mappings/facts.yaml``) and the local code system: a fact that is added to
the catalogue with an Observation mapping is asked by the form without any
edit here. A fact can be *asked* when its mapping (or the ``_<fact>_recorded`` /
``_<fact>`` mapping a derivation reads) matches an Observation with a value
type the service reads back (boolean, integer, decimal, code). Anything else
(a Condition, a Procedure, a derived aggregate) is listed in the form as
"record it in the EHR" — the app never writes what the service cannot read.

Nothing is guessed: an item gets an initial value only from a value the record
already holds (a stale value), shown with its date and source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

from cds_service import __version__
from cds_service.facts.catalogue import FactCatalogue
from cds_service.facts.mapping import FactSpec, MappingSet
from cds_service.facts.model import Fact, Facts

LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
UCUM = "http://unitsofmeasure.org"
QUESTIONNAIRE_URL = "https://neuro-onc-cds.example.org/fhir/Questionnaire/missing-facts"
EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
EXT_ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
EXT_TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
ITEM_CONTROL = "http://hl7.org/fhir/questionnaire-item-control"
# Derived facts that are decided by another, askable fact.
ASK_INSTEAD: Mapping[str, str] = {"kps_ge_70": "kps"}
_ITEM_TYPES = {"boolean": "boolean", "presence": "boolean", "integer": "integer", "decimal": "decimal",
               "code": "choice"}
_WORDS = {
    "title": {"nl": "Ontbrekende gegevens voor het richtlijnadvies", "en": "Data needed for guideline advice"},
    "record_in_ehr": {"nl": "Leg vast in het EPD (niet via dit formulier)",
                      "en": "Record in the EHR (not through this form)"},
    "last": {"nl": "Laatst vastgelegd: {value} op {date} ({source}) — ouder dan de geldigheidstermijn, "
                   "bevestig of wijzig", "en": "Last recorded: {value} on {date} ({source}) — older than its "
                   "relevance window, confirm or change"},
    "why": {"nl": "Waarom: {why}", "en": "Why: {why}"},
    "out_of_range": {"nl": "{label}: {value} ligt buiten het toegestane bereik {low}–{high}",
                     "en": "{label}: {value} is outside the allowed range {low}–{high}"},
    "wrong_type": {"nl": "{label}: verwacht een antwoord van type {type}",
                   "en": "{label}: expected an answer of type {type}"},
    "not_asked": {"nl": "{link}: deze vraag stond niet in het formulier", "en": "{link}: this question was not asked"},
    "not_an_option": {"nl": "{label}: {value} is geen toegestane keuze", "en": "{label}: {value} is not an allowed choice"},
    "one_answer": {"nl": "{label}: precies één antwoord", "en": "{label}: exactly one answer"},
}


def word(key: str, language: str, **values: Any) -> str:
    text = _WORDS[key]
    return (text.get(language) or text["en"]).format(**values)


@dataclass(frozen=True)
class AskableFact:
    """A missing fact the form can ask, and how its answer is written as an Observation."""

    name: str  # the fact the pathways missed (the item's linkId)
    spec: FactSpec  # the mapping that reads the answer back
    system: str
    code: str
    display: str
    item_type: str  # boolean | integer | decimal | choice
    unit: str | None = None  # UCUM code of the fact's own unit (factor 1)
    low: float | None = None
    high: float | None = None
    options: tuple[tuple[str, str, str], ...] = ()  # (system, code, display)


def local_displays(package: str = "cds_service.mappings", filename: str = "codesystem-facts.json") -> dict[str, str]:
    """LOCAL code → display, from the published CodeSystem."""
    path = resources.files(package) / filename
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {c["code"]: c.get("display") or c["code"] for c in data.get("concept", []) if "code" in c}


def _observation_spec(ms: MappingSet, name: str) -> FactSpec | None:
    name = ASK_INSTEAD.get(name, name)
    for candidate in (name, f"_{name}_recorded", f"_{name}"):
        spec = ms.facts.get(candidate)
        if spec is None or spec.value.type not in _ITEM_TYPES:
            continue
        if any("Observation" in m.resources and m.codes for m in spec.matches):
            return spec
    return None


def _observation_code(spec: FactSpec) -> tuple[str, str] | None:
    """The code to write: the first exact LOCAL code of an Observation match, else the first exact code."""
    exact = [c for m in spec.matches if "Observation" in m.resources for c in m.codes if not c.prefix]
    for c in exact:
        if LOCAL in c.systems:
            return LOCAL, c.code
    return (exact[0].systems[0], exact[0].code) if exact else None


def _canonical_unit(spec: FactSpec) -> str | None:
    units = spec.value.units or {}
    for unit, factor in units.items():
        if factor == 1:
            return unit
    return None


def _says_something(ms: MappingSet, answer: Any) -> bool:
    """Only body-site answers that decide the question are offered: a critical site (or a non-site value such
    as ``none``). A generic or non-critical site recorded this way leaves the fact unknown, so it is not a choice."""
    value = getattr(answer, "value", answer)
    site = ms.sites.get(value) if isinstance(value, str) else None
    return site is None or site.critical is True


def _options(ms: MappingSet, spec: FactSpec, displays: Mapping[str, str]) -> tuple[tuple[str, str, str], ...]:
    pairs = [(c.systems[0], c.code) for c, answer in spec.value.answers
             if not c.prefix and _says_something(ms, answer)]
    local = [p for p in pairs if p[0] == LOCAL]
    chosen = local or pairs
    return tuple(dict.fromkeys((s, c, displays.get(c, c) if s == LOCAL else c) for s, c in chosen))


def askable(ms: MappingSet, name: str, catalogue: FactCatalogue, displays: Mapping[str, str]) -> AskableFact | None:
    """How the form asks ``name``, or ``None`` when it cannot be recorded as an Observation answer."""
    spec = _observation_spec(ms, name)
    if spec is None:
        return None
    coded = _observation_code(spec)
    if coded is None:
        return None
    system, code = coded
    item_type = _ITEM_TYPES[spec.value.type]
    options: tuple[tuple[str, str, str], ...] = ()
    if item_type == "choice":
        options = _options(ms, spec, displays)
        if not options:
            return None
    low, high = spec.value.range or (None, None)
    display = displays.get(code, code) if system == LOCAL else catalogue.label(ASK_INSTEAD.get(name, name), "en")
    return AskableFact(name=name, spec=spec, system=system, code=code, display=display, item_type=item_type,
                       unit=_canonical_unit(spec) if item_type == "decimal" else None, low=low, high=high,
                       options=options)


def missing_fact_names(findings: Iterable[Any]) -> list[str]:
    """Every fact a card named as missing, ``DATA-MISSING`` first (its facts decide a flowchart step)."""
    findings = list(findings)
    ordered = sorted(findings, key=lambda f: f.rule_id != "DATA-MISSING")
    return list(dict.fromkeys(n for f in ordered for n in f.facts_missing))


# -- the Questionnaire ------------------------------------------------------------------------------------------


def _fmt_date(value: datetime | date | None) -> str:
    if value is None:
        return "?"
    return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()


def _translated(text: str, other_language: str, other_text: str) -> dict:
    return {"text": text, "_text": {"extension": [{"url": EXT_TRANSLATION, "extension": [
        {"url": "lang", "valueCode": other_language}, {"url": "content", "valueString": other_text}]}]}}


def _display_item(link_id: str, text: str, *, help_: bool = False) -> dict:
    item = {"linkId": link_id, "type": "display", "text": text}
    if help_:
        item["extension"] = [{"url": EXT_ITEM_CONTROL, "valueCodeableConcept": {
            "coding": [{"system": ITEM_CONTROL, "code": "help"}]}}]
    return item


def _number(value: float, integer: bool) -> Any:
    return int(value) if integer else float(value)


def initial_value(ask: AskableFact, fact: Fact | None) -> dict | None:
    """The ``initial`` of an item: only a value the record holds (stale, so shown and to be confirmed)."""
    value = None if fact is None else fact.stale_value
    if value is None:
        return None
    if ask.item_type == "boolean" and isinstance(value, bool):
        return {"valueBoolean": value}
    if ask.item_type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return {"valueInteger": value}
    if ask.item_type == "decimal" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"valueDecimal": float(value)}
    if ask.item_type == "choice" and isinstance(value, str):
        for system, code, display in ask.options:
            if code == value:
                return {"valueCoding": {"system": system, "code": code, "display": display}}
    return None


def question_item(ask: AskableFact, fact: Fact | None, catalogue: FactCatalogue, language: str) -> dict:
    other = "en" if language == "nl" else "nl"
    label_name = ASK_INSTEAD.get(ask.name, ask.name)
    item: dict[str, Any] = {"linkId": ask.name,
                            **_translated(catalogue.label(label_name, language), other,
                                          catalogue.label(label_name, other)),
                            "type": ask.item_type, "required": False, "repeats": False,
                            "code": [{"system": ask.system, "code": ask.code, "display": ask.display}]}
    extensions = []
    if ask.item_type in ("integer", "decimal"):
        key = "valueInteger" if ask.item_type == "integer" else "valueDecimal"
        if ask.low is not None:
            extensions.append({"url": EXT_MIN, key: _number(ask.low, ask.item_type == "integer")})
        if ask.high is not None:
            extensions.append({"url": EXT_MAX, key: _number(ask.high, ask.item_type == "integer")})
    if ask.unit:
        extensions.append({"url": EXT_UNIT, "valueCoding": {"system": UCUM, "code": ask.unit, "display": ask.unit}})
    if extensions:
        item["extension"] = extensions
    if ask.options:
        item["answerOption"] = [{"valueCoding": {"system": s, "code": c, "display": d}} for s, c, d in ask.options]
    children = []
    why = catalogue.why(label_name, language)
    if why:
        children.append(_display_item(f"{ask.name}.why", word("why", language, why=why), help_=True))
    initial = initial_value(ask, fact)
    if initial is not None and fact is not None:
        item["initial"] = [initial]
        source = fact.provenance[0].reference if fact.provenance else "?"
        children.append(_display_item(f"{ask.name}.recorded", word(
            "last", language, value=fact.stale_value, date=_fmt_date(fact.date), source=source)))
    if children:
        item["item"] = children
    return item


def build_questionnaire(missing: Sequence[str], facts: Facts | None, ms: MappingSet, catalogue: FactCatalogue,
                        displays: Mapping[str, str], *, language: str, now: datetime) -> dict:
    """One item per missing fact: a question when it can be answered here, else a 'record in the EHR' line."""
    questions, elsewhere = [], []
    for name in dict.fromkeys(missing):
        ask = askable(ms, name, catalogue, displays)
        fact = facts[ASK_INSTEAD.get(name, name)] if facts is not None else None
        if ask is not None:
            questions.append(question_item(ask, fact, catalogue, language))
        else:
            label = catalogue.label(name, language)
            how = catalogue.how_to_record(name)
            elsewhere.append(_display_item(f"ehr.{name}", f"{label}: {how}" if how else label))
    items = list(questions)
    if elsewhere:
        items.append({"linkId": "ehr", "type": "group", "text": word("record_in_ehr", language), "item": elsewhere})
    return {
        "resourceType": "Questionnaire",
        "id": "missing-facts",
        "url": QUESTIONNAIRE_URL,
        "version": __version__,
        "name": "MissingGuidelineFacts",
        "title": word("title", language),
        "status": "active",
        "subjectType": ["Patient"],
        "language": language,
        "date": now.isoformat(),
        "item": items,
    }


# -- answers ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    ask: AskableFact
    value: Any  # bool | int | float | (system, code, display)


class AnswerError(ValueError):
    def __init__(self, messages: list[dict]) -> None:
        super().__init__("; ".join(m["message"] for m in messages))
        self.messages = messages


def _answers_of(items: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for item in items or ():
        if not isinstance(item, Mapping):
            continue
        yield item
        yield from _answers_of(item.get("item") or ())


def read_answers(response: Mapping[str, Any], asked: Mapping[str, AskableFact], catalogue: FactCatalogue,
                 language: str) -> list[Answer]:
    """Check a QuestionnaireResponse against the questions asked; every problem is reported at once."""
    answers: list[Answer] = []
    errors: list[dict] = []

    def fail(link: str, key: str, **values: Any) -> None:
        errors.append({"linkId": link, "message": word(key, language, link=link, **values)})

    for item in _answers_of(response.get("item") or ()):
        link = item.get("linkId")
        given = item.get("answer") or []
        if not given:
            continue
        ask = asked.get(link) if isinstance(link, str) else None
        if ask is None:
            fail(str(link), "not_asked")
            continue
        label = catalogue.label(ASK_INSTEAD.get(ask.name, ask.name), language)
        if len(given) != 1 or not isinstance(given[0], Mapping):
            fail(link, "one_answer", label=label)
            continue
        answer = given[0]
        if ask.item_type == "boolean":
            value = answer.get("valueBoolean")
            if not isinstance(value, bool):
                fail(link, "wrong_type", label=label, type="boolean")
                continue
        elif ask.item_type in ("integer", "decimal"):
            value = answer.get("valueInteger" if ask.item_type == "integer" else "valueDecimal")
            if ask.item_type == "decimal" and value is None:
                value = answer.get("valueInteger")
            quantity = answer.get("valueQuantity")
            if value is None and isinstance(quantity, Mapping):
                value = quantity.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    ask.item_type == "integer" and not float(value).is_integer()):
                fail(link, "wrong_type", label=label, type=ask.item_type)
                continue
            if (ask.low is not None and value < ask.low) or (ask.high is not None and value > ask.high):
                fail(link, "out_of_range", label=label, value=value,
                     low="" if ask.low is None else f"{ask.low:g}", high="" if ask.high is None else f"{ask.high:g}")
                continue
            value = int(value) if ask.item_type == "integer" else float(value)
        else:
            coding = answer.get("valueCoding")
            code = coding.get("code") if isinstance(coding, Mapping) else None
            match = next((o for o in ask.options if o[1] == code and (
                coding.get("system") in (None, o[0]))), None)
            if match is None:
                fail(link, "not_an_option", label=label, value=code)
                continue
            value = match
        answers.append(Answer(ask=ask, value=value))
    if errors:
        raise AnswerError(errors)
    return answers


def observation(answer: Answer, *, patient: str, author: str | None, when: str, response_ref: str | None,
                label: str) -> dict:
    """One answer as the Observation the fact mapping reads back (``../spec/fhir-mapping.md``)."""
    ask = answer.ask
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "survey", "display": "Survey"}]}],
        "code": {"coding": [{"system": ask.system, "code": ask.code, "display": ask.display}], "text": label},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "issued": when,
    }
    if author:
        obs["performer"] = [{"reference": author}]
    if response_ref:
        obs["derivedFrom"] = [{"reference": response_ref}]
    if ask.item_type == "boolean":
        obs["valueBoolean"] = answer.value
    elif ask.item_type == "integer":
        obs["valueInteger"] = answer.value
    elif ask.item_type == "decimal":
        quantity: dict[str, Any] = {"value": answer.value}
        if ask.unit:
            quantity.update(unit=ask.unit, system=UCUM, code=ask.unit)
        obs["valueQuantity"] = quantity
    else:
        system, code, display = answer.value
        obs["valueCodeableConcept"] = {"coding": [{"system": system, "code": code, "display": display}]}
    return obs


def questionnaire_response(answers: Sequence[Answer], *, patient: str, author: str | None, when: str) -> dict:
    """The QuestionnaireResponse of the saved answers (only the answered questions)."""
    items = []
    for a in answers:
        if a.ask.item_type == "boolean":
            value = {"valueBoolean": a.value}
        elif a.ask.item_type == "integer":
            value = {"valueInteger": a.value}
        elif a.ask.item_type == "decimal":
            value = {"valueDecimal": a.value}
        else:
            system, code, display = a.value
            value = {"valueCoding": {"system": system, "code": code, "display": display}}
        items.append({"linkId": a.ask.name, "answer": [value]})
    qr: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "questionnaire": QUESTIONNAIRE_URL,
                          "status": "completed", "subject": {"reference": f"Patient/{patient}"},
                          "authored": when, "item": items}
    if author:
        qr["author"] = {"reference": author}
    return qr
