"""Every fixture case (fixtures/cases/*.yaml) through the facts layer and the engine.

For each case: load its patient bundle, extract the facts at the case's ``now`` and check every fact it
claims; then, for each service in ``expect``, evaluate the hook in Dutch and in English and check the exact
set of rule ids (and ``params`` when given). Every bundle must be a valid transaction whose resources all
belong to its own patient. Parametrized by case id, so a failure names the case.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import pytest
import yaml

from cds_service.cards.format import format_value
from cds_service.ehr.fixtures import case_context
from cds_service.facts.extract import FactExtractor
from cds_service.facts.model import Fact, Facts, FactStatus
from cds_service.fhir.parse import parse_datetime

ROOT = Path(__file__).resolve().parents[1] / "fixtures"
ROOTS = (ROOT, Path(__file__).resolve().parent / "data")  # tests/data: deliberately malformed patients
DEFAULT_NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
USER = "Practitioner/fixture-clinician"
STRUCTURED_KEYS = {"value", "status", "stale_value", "derived_from", "reason", "attrs", "note"}
# Resource types that must name their patient (subject or patient).
PATIENT_BOUND = {"Observation", "Condition", "Procedure", "MedicationRequest", "MedicationStatement",
                 "ServiceRequest", "Encounter", "ImagingStudy", "DiagnosticReport", "AllergyIntolerance",
                 "BodyStructure", "CarePlan"}


def _load_cases() -> list[dict]:
    cases = []
    for path in sorted(p for root in ROOTS for p in (root / "cases").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            case = dict(case)
            case["_file"] = path.name
            cases.append(case)
    return cases


CASES = _load_cases()
BUNDLES = sorted(p for root in ROOTS for p in (root / "patients").glob("*.json"))


def _bundle_path(pid: str) -> Path:
    return next((root / "patients" / f"{pid}.json" for root in ROOTS if (root / "patients" / f"{pid}.json").is_file()),
                ROOT / "patients" / f"{pid}.json")


@lru_cache(maxsize=None)
def _bundle(pid: str) -> dict:
    return json.loads(_bundle_path(pid).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _extractor() -> FactExtractor:
    return FactExtractor.load(strict=True)


@lru_cache(maxsize=1)
def _engine():
    from cds_service.engine import Engine

    return Engine.load()


def _resources(pid: str) -> tuple[dict, ...]:
    return tuple(e["resource"] for e in _bundle(pid).get("entry", []))


def _now(case: Mapping[str, Any]) -> datetime:
    raw = case.get("now")
    if raw is None:
        return DEFAULT_NOW
    value = parse_datetime(raw)
    assert value is not None, f"case {case['id']}: now {raw!r} is not a datetime"
    return value


# -- comparing claimed facts -------------------------------------------------------------------------------


def _same(expected: Any, actual: Any) -> bool:
    """Value equality as the YAML can write it: lists vs sets/tuples, ISO strings vs datetimes, float tolerance."""
    if expected is None:
        return actual is None
    if isinstance(actual, (set, frozenset)):
        return isinstance(expected, (list, tuple, set, frozenset)) and set(expected) == set(actual)
    if isinstance(actual, tuple) and isinstance(expected, (list, tuple)):
        return len(expected) == len(actual) and all(_same(e, a) for e, a in zip(expected, actual))
    if isinstance(actual, datetime):
        when = parse_datetime(expected) if isinstance(expected, (str, datetime, date)) else None
        return when is not None and when == actual
    if isinstance(actual, bool) or isinstance(expected, bool):
        return expected is actual
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return math.isclose(float(expected), float(actual), rel_tol=1e-3, abs_tol=1e-3)
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        return set(expected) == set(actual) and all(_same(expected[k], actual[k]) for k in expected)
    return expected == actual


def _check_fact(name: str, expected: Any, fact: Fact) -> list[str]:
    shown = (f"{name}: status={fact.status.value} value={fact.value!r} stale={fact.stale_value!r} "
             f"reason={fact.reason!r} derived_from={fact.derived_from!r} notes={fact.notes!r} "
             f"attrs={dict(fact.attrs)!r}")
    structured = isinstance(expected, Mapping) and expected and set(expected) <= STRUCTURED_KEYS
    if not structured:
        return [] if _same(expected, fact.value) else [f"expected {expected!r}; got {shown}"]
    errors = []
    if "value" in expected and not _same(expected["value"], fact.value):
        errors.append(f"value {expected['value']!r}")
    if "status" in expected and expected["status"] != fact.status.value:
        errors.append(f"status {expected['status']!r}")
    if "stale_value" in expected and not _same(expected["stale_value"], fact.stale_value):
        errors.append(f"stale_value {expected['stale_value']!r}")
    if "derived_from" in expected and expected["derived_from"] != fact.derived_from:
        errors.append(f"derived_from {expected['derived_from']!r}")
    if "reason" in expected:
        text = " ".join([fact.reason or "", *fact.notes])
        if expected["reason"] not in text:
            errors.append(f"reason containing {expected['reason']!r}")
    if "note" in expected and not any(expected["note"] in n for n in fact.notes):
        errors.append(f"a note containing {expected['note']!r}")
    for key, value in (expected.get("attrs") or {}).items():
        if key not in fact.attrs or not _same(value, fact.attrs[key]):
            errors.append(f"attrs.{key} {value!r}")
    return [f"expected {', '.join(errors)}; got {shown}"] if errors else []


def _facts(case: Mapping[str, Any]) -> Facts:
    pid = case.get("patient", case["id"])
    return _extractor().extract(_resources(pid), now=_now(case),
                                unavailable_sources=frozenset(case.get("unavailable") or ()))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_claimed_facts(case: dict) -> None:
    assert case.get("facts") or case.get("expect"), f"{case['id']}: claims nothing"
    facts = _facts(case)
    errors = []
    for name, expected in (case.get("facts") or {}).items():
        errors.extend(f"{case['id']} ({case['_file']}): {e}" for e in _check_fact(name, expected, facts[name]))
    assert not errors, "\n".join(errors) + (f"\nproblems: {facts.problems}" if facts.problems else "")


# -- services -----------------------------------------------------------------------------------------------


EXPECT_CASES = [(c, service) for c in CASES for service in sorted(c.get("expect") or {})]


def _param_matches(expected: Any, raw: Any) -> bool:
    if _same(expected, raw):
        return True
    zone = ZoneInfo("Europe/Amsterdam")
    return any(str(expected) == format_value(raw, lang, zone, DEFAULT_NOW) for lang in ("nl", "en"))


@pytest.mark.parametrize("case,service_id", EXPECT_CASES, ids=[f"{c['id']}:{s}" for c, s in EXPECT_CASES])
@pytest.mark.parametrize("language", ["nl", "en"])
def test_expected_rules(case: dict, service_id: str, language: str) -> None:
    from cds_service.engine import PatientData
    from cds_service.services import SERVICES_BY_ID

    service = SERVICES_BY_ID[service_id]
    pid = case.get("patient", case["id"])
    data = PatientData(resources=_resources(pid), unavailable=frozenset(case.get("unavailable") or ()))
    context = case_context(case, service.hook, user_id=USER)
    evaluation = _engine().evaluate(service, context, data, now=_now(case), language=language)
    got = sorted(f.rule_id for f in evaluation.findings)
    expected = sorted(case["expect"][service_id] or [])
    assert got == expected, f"{case['id']} [{service_id}, {language}]: expected {expected}, got {got}"
    cards = {c["source"]["topic"]["code"] for c in evaluation.response["cards"]}
    assert cards == set(expected), f"{case['id']}: cards {sorted(cards)} differ from findings"
    for rule_id, params in (case.get("params") or {}).items():
        finding = next((f for f in evaluation.findings if f.rule_id == rule_id), None)
        if finding is None:
            continue  # the rule belongs to another service of this case
        for key, value in params.items():
            assert key in finding.params, f"{case['id']}: {rule_id} has no param {key!r} ({dict(finding.params)})"
            assert _param_matches(value, finding.params[key]), (
                f"{case['id']}: {rule_id}.{key} expected {value!r}, got {finding.params[key]!r}")


def test_every_params_rule_is_expected() -> None:
    for case in CASES:
        fired = {r for rules in (case.get("expect") or {}).values() for r in (rules or [])}
        for rule_id in case.get("params") or {}:
            assert rule_id in fired, f"{case['id']}: params for {rule_id}, which no service is expected to fire"


# -- bundles ------------------------------------------------------------------------------------------------


def _reference(resource: Mapping[str, Any]) -> str | None:
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return ref["reference"]
    return None


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_bundle_is_a_transaction_of_one_patient(path: Path) -> None:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    pid = path.stem
    assert bundle.get("resourceType") == "Bundle" and bundle.get("type") == "transaction"
    entries = bundle.get("entry")
    assert isinstance(entries, list) and entries, "a transaction needs entries"
    ids = set()
    patients = []
    for entry in entries:
        res = entry.get("resource")
        assert isinstance(res, dict) and isinstance(res.get("resourceType"), str), f"{pid}: entry without resource"
        rtype, rid = res["resourceType"], res.get("id")
        assert isinstance(rid, str) and rid, f"{pid}: {rtype} without id"
        key = f"{rtype}/{rid}"
        assert key not in ids, f"{pid}: duplicate {key}"
        ids.add(key)
        request = entry.get("request") or {}
        assert request.get("method") == "PUT" and request.get("url") == key, f"{pid}: {key} needs PUT {key}"
        assert isinstance(entry.get("fullUrl"), str) and entry["fullUrl"], f"{pid}: {key} without fullUrl"
        if rtype == "Patient":
            patients.append(rid)
            continue
        ref = _reference(res)
        if rtype in PATIENT_BOUND or ref is not None:
            assert ref == f"Patient/{pid}", f"{pid}: {key} refers to {ref!r}, not its own patient"
    assert patients == [pid], f"{pid}: bundle must hold exactly its own Patient (found {patients})"


def test_every_case_has_a_bundle_and_unique_id() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for case in CASES:
        pid = case.get("patient", case["id"])
        assert _bundle_path(pid).is_file(), f"{case['id']}: no bundle {pid}.json"


def test_facts_only_cases_claim_facts() -> None:
    for case in CASES:
        if case.get("facts_only"):
            assert case.get("facts"), f"{case['id']}: facts_only without facts"
        else:
            assert case.get("expect"), f"{case['id']}: no expect (add facts_only: true for mapping fixtures)"


def test_fact_names_exist() -> None:
    names = set(_extractor().fact_names)
    unknown = sorted({(c["id"], n) for c in CASES for n in (c.get("facts") or {}) if n not in names})
    assert not unknown, f"cases claim facts that do not exist: {unknown}"


def test_status_values_are_known() -> None:
    allowed = {s.value for s in FactStatus}
    for case in CASES:
        for name, expected in (case.get("facts") or {}).items():
            if isinstance(expected, Mapping) and "status" in expected:
                assert expected["status"] in allowed, f"{case['id']}: {name}.status {expected['status']!r}"
