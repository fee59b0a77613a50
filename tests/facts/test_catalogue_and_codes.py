"""The published artefacts: fact catalogue, local CodeSystem, docs/fact-codes.md, the fact contract."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.docs import DERIVED, load_codesystem, render
from cds_service.facts.extract import DERIVED_FACTS
from cds_service.facts.mapping import load_mappings

from .helpers import extractor

ROOT = Path(__file__).resolve().parents[2]
LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
MY_FILES = {"systems.yaml", "disease.yaml", "performance.yaml", "lesions.yaml", "symptoms.yaml", "spine.yaml",
            "care.yaml"}


def contract_facts() -> list[str]:
    """Fact names in the first column of the tables in docs/facts-contract.md (`a`, `b` rows split)."""
    names = []
    for line in (ROOT / "docs" / "facts-contract.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            names.extend(re.findall(r"`([a-z0-9_]+)`", first))
    return names


CONTRACT = contract_facts()


def test_contract_is_parsed() -> None:
    assert len(CONTRACT) > 90 and "kps" in CONTRACT and "adequate_spine_imaging" in CONTRACT


@pytest.mark.parametrize("name", CONTRACT)
def test_every_contract_fact_is_extracted(name: str) -> None:
    assert name in extractor().fact_names


def test_extracted_facts_are_in_the_contract_or_added_by_a_pathway() -> None:
    mine = {n for n, spec in extractor().mappings.facts.items() if spec.file in MY_FILES and not n.startswith("_")}
    extra = (mine | set(DERIVED_FACTS)) - set(CONTRACT)
    assert not extra, f"document these facts in docs/facts-contract.md: {sorted(extra)}"


CATALOGUE = load_fact_catalogue()


@pytest.mark.parametrize("name", sorted(set(CONTRACT)))
def test_catalogue_entry(name: str) -> None:
    info = CATALOGUE.entries.get(name)
    assert info is not None, f"mappings/facts.yaml has no entry for {name}"
    for lang in ("nl", "en"):
        assert info.label.get(lang), f"{name}: label.{lang}"
        assert info.why.get(lang), f"{name}: why.{lang}"
        assert len(info.why[lang]) < 120, f"{name}: why.{lang} should be one short phrase"
    assert info.record, f"{name}: how to record it"


def test_every_catalogue_entry_is_complete() -> None:
    """Entries appended by pathway helpers (facts they introduce) follow the same shape."""
    for name, info in CATALOGUE.entries.items():
        assert info.label.get("nl") and info.label.get("en") and info.why.get("nl") and info.why.get("en"), name


def test_every_derived_fact_is_documented() -> None:
    assert set(DERIVED) == set(DERIVED_FACTS)


# -- the local CodeSystem -------------------------------------------------------------------------------

CODESYSTEM = load_codesystem()
CS_CODES = {c["code"] for c in CODESYSTEM["concept"]}


def test_codesystem_resource() -> None:
    cs = CODESYSTEM
    assert cs["resourceType"] == "CodeSystem" and cs["url"] == LOCAL
    assert cs["status"] == "active" and cs["content"] == "complete"
    assert cs["count"] == len(cs["concept"]) == len(CS_CODES)
    for concept in cs["concept"]:
        assert concept.get("display") and concept.get("definition"), concept["code"]
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", concept["code"]), concept["code"]


def test_codesystem_validates_as_r4b() -> None:
    from fhir.resources.R4B.codesystem import CodeSystem

    model = CodeSystem.model_validate(CODESYSTEM)
    assert len(model.concept) == CODESYSTEM["count"]


def _local_codes(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("system") == LOCAL and isinstance(value.get("code"), str):
            yield value["code"]
        for k, v in value.items():
            yield from _local_codes(k)
            yield from _local_codes(v)
    elif isinstance(value, list):
        for v in value:
            yield from _local_codes(v)
    elif isinstance(value, str):
        m = re.fullmatch(r"(?:LOCAL[ |]|" + re.escape(LOCAL) + r"\|)(\S+)", value.strip())
        if m:
            yield m.group(1)


def _used_local_codes() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    sources = [(p, yaml.safe_load(p.read_text(encoding="utf-8"))) for p in sorted((ROOT / "mappings").glob("*.yaml"))]
    sources += [(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted((ROOT / "fixtures").rglob("*.json"))]
    sources += [(p, yaml.safe_load(p.read_text(encoding="utf-8")))
                for p in sorted((ROOT / "fixtures" / "cases").glob("*.yaml"))]
    for path, data in sources:
        for code in _local_codes(data):
            used.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return used


def test_every_local_code_in_mappings_and_fixtures_is_defined() -> None:
    missing = {code: sorted(where) for code, where in _used_local_codes().items() if code not in CS_CODES}
    assert not missing, f"add these codes to mappings/codesystem-facts.json: {missing}"


def test_every_local_code_of_the_compiled_mappings_is_defined() -> None:
    ms = extractor().mappings
    specs = [c for f in ms.facts.values() for m in f.matches for c in m.codes]
    specs += [c for f in ms.facts.values() for m in f.matches for c, _a in m.code_values]
    specs += [c for f in ms.facts.values() for c, _a in f.value.answers]
    specs += [c for t in ms.codesets.values() for c, _v in t]
    local = {c.code for c in specs if LOCAL in c.systems}
    assert local - CS_CODES == set()


# -- docs ---------------------------------------------------------------------------------------------------

def test_fact_codes_doc_is_up_to_date() -> None:
    expected = render(load_mappings(), CODESYSTEM)
    actual = (ROOT / "docs" / "fact-codes.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: python -m cds_service.facts.docs > docs/fact-codes.md"


def test_mapping_files_document_the_format() -> None:
    for name in MY_FILES:
        text = (ROOT / "mappings" / name).read_text(encoding="utf-8")
        assert text.startswith("format: neuro-onc-cds/fact-mapping/v1\n# "), name
        assert "# Mapping format" in text or "# MAPPING FORMAT" in text, name
