"""The mapping format: clear startup errors for mistakes, local extensions, compiled paths and code tables."""

from __future__ import annotations

import pytest

from cds_service.facts.codes import CodeTable, MappingError, parse_code
from cds_service.facts.extract import FactExtractor
from cds_service.facts.mapping import FORMAT, compile_path, load_mappings, mapping_files_dir

from .helpers import LNC, NOW, concept, obs

HEAD = f"format: {FORMAT}\nsystems: {{LNC: http://loinc.org, LOCAL: http://local}}\n"


def compile_text(text: str):
    return load_mappings(texts=[("test.yaml", HEAD + text)])


@pytest.mark.parametrize("text,message", [
    ("facts: {kps: {resources: [Observation], codes: ['XYZ 1']}}", "unknown code system alias 'XYZ'"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC']}}", "needs a system and a code"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC \"0\"']}}", "cannot contain quotes"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC *']}}", "prefix needs at least one character"),
    ("facts: {kps: {resources: [Observatoin], codes: ['LNC 1']}}", "unsupported resource types"),
    ("facts: {kps: {resources: [Observation]}}", "needs 'codes' or 'code_values'"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], window: 3 moons}}", "window must look like"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], select: newest}}", "is not one of"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], value: {type: text}}}", "is not one of"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], value: {type: code}}}", "needs 'answers'"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], value: {type: decimal}}}", "needs 'units'"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], value: {paths: ['$[?']}}}", "invalid jsonpath"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], colour: red}}", "unknown keys ['colour']"),
    ("facts: {kps: {resources: [Observation], codes: ['@nothing']}}", "codeset 'nothing' is required"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], attrs: [mood]}}", "attrs: allowed are"),
    ("facts: {kps: {resources: [Observation], codes: ['LNC 1'], value: {type: decimal, units: {mm: 0}}}}",
     "factor must be a positive number"),
    ("codesets: {a: {codes: ['@b']}, b: {codes: ['@a']}}", "loop"),
    ("codesets: {a: {codes: {LNC 1: null}}}", "has no value"),
    ("codesets: {a: {list: []}}", "needs 'codes'"),
    ("sites: {x: {region: brain, critical: maybe}}", "must be true, false or null"),
    ("sites: {x: {region: liver}}", "region must be brain, spine or other"),
    ("extend: {nothing: {codes: ['LNC 1']}}", "no fact or codeset of that name"),
    ("colour: red", "unknown top-level keys"),
    ("facts: [1, 2]", "'facts' must be a mapping"),
])
def test_mistakes_are_reported_with_file_and_entry(text, message) -> None:
    with pytest.raises(MappingError) as err:
        compile_text(text)
    assert message in str(err.value)
    assert str(err.value).startswith("test.yaml: ")


def test_invalid_yaml_is_reported() -> None:
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mappings(texts=[("bad.yaml", f"format: {FORMAT}\nfacts: [")])


def test_files_without_the_format_line_are_not_mappings() -> None:
    with pytest.raises(MappingError, match="no mapping files"):
        load_mappings(texts=[("facts.yaml", "kps: {label: {nl: a, en: b}}")])


def test_duplicate_fact_across_files_needs_extend() -> None:
    text = "facts: {kps: {resources: [Observation], codes: ['LNC 1']}}"
    with pytest.raises(MappingError, match="use 'extend'"):
        load_mappings(texts=[("a.yaml", HEAD + text), ("b.yaml", HEAD + text)])


def test_local_file_extends_a_fact_and_a_codeset() -> None:
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(mapping_files_dir().glob("*.yaml"))]
    texts.append(("local.yaml", f"format: {FORMAT}\nextend:\n"
                                "  _kps_recorded: {codes: ['http://hospital.example/codes|KARNOFSKY']}\n"
                                "  medications: {codes: {'http://hospital.example/meds|DEXA': dexamethasone}}\n"))
    extractor = FactExtractor(load_mappings(texts=texts), strict=True)
    kps = obs(("http://hospital.example/codes", "KARNOFSKY"), {"valueInteger": 70})
    dex = {"resourceType": "MedicationRequest", "id": "m", "status": "active", "intent": "order",
           "medicationCodeableConcept": concept(("http://hospital.example/meds", "DEXA"))}
    facts = extractor.extract([kps, dex], now=NOW)
    assert facts.value("kps") == 70 and facts.value("dexamethasone_active") is True


def test_missing_codeset_needed_by_a_derivation_stops_startup() -> None:
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(mapping_files_dir().glob("*.yaml"))
             if p.name != "care.yaml"]
    with pytest.raises(MappingError, match="codeset 'treatments' is required"):
        FactExtractor(load_mappings(texts=texts))


@pytest.mark.parametrize("path,data,expected", [
    ("valueQuantity.value", {"valueQuantity": {"value": 3}}, [3]),
    ("component[1].valueInteger", {"component": [{"valueInteger": 1}, {"valueInteger": 2}]}, [2]),
    ("component[5].valueInteger", {"component": [{"valueInteger": 1}]}, []),
    ("$.valueBoolean", {"valueBoolean": False}, [False]),
    ("valueQuantity.value", {"valueQuantity": [{"value": 3}]}, []),
    ("bodySite[*].text", {"bodySite": [{"text": "a"}, {"text": "b"}]}, ["a", "b"]),
    ("valueQuantity.value", "not a dict", []),
])
def test_paths_fast_and_jsonpath_agree(path, data, expected) -> None:
    compiled = compile_path(path, "test")
    assert compiled.find(data) == expected
    slow = [m.value for m in compiled.expr.find(data)] if isinstance(data, dict) else []
    assert slow == expected


def test_simple_paths_get_the_fast_getter() -> None:
    assert compile_path("component[0].valueQuantity.value", "t").steps == ("component", 0, "valueQuantity", "value")
    assert compile_path("bodySite[*].text", "t").steps is None


def test_code_table_longest_prefix_and_icd_normalisation() -> None:
    systems = {"ICD10": ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-nl")}
    table: CodeTable = CodeTable()
    for code, value in (("ICD10 C3*", "other"), ("ICD10 C34*", "lung"), ("ICD10 C79.3", "bm")):
        table.add(parse_code(code, systems, "t"), value)
    assert table.get("http://hl7.org/fhir/sid/icd-10", "C34.1") == "lung"
    assert table.get("http://hl7.org/fhir/sid/icd-10-nl", "c35") == "other"
    assert table.get("http://hl7.org/fhir/sid/icd-10", "C793") == "bm"
    assert table.get("http://hl7.org/fhir/sid/icd-10", "C7") is None
    assert table.get("http://other", "C34") is None


def test_url_code_spec() -> None:
    spec = parse_code("http://loinc.org|89243-0", {}, "t")
    assert spec.systems == ("http://loinc.org",) and spec.code == "89243-0"
    assert parse_code(LNC + "|1", {}, "t").matches(LNC, "1")
