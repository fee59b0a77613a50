"""The fact catalogue: how each fact is called on a card, why it matters, how to record it.

Read from ``mappings/facts.yaml`` (one entry per fact name)::

    kps:
      label: {nl: Karnofsky-score (KPS), en: Karnofsky performance status (KPS)}
      why: {nl: "bepaalt de triage (KPS ≥ 70)", en: "decides triage (KPS ≥ 70)"}
      record: "Observation, LOINC 89243-0, valueInteger 0–100"

Cards use it to name the facts they used and, above all, the facts that were
missing together with the code an integrator should record them with.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Mapping

from cds_service.yaml_load import safe_load


class CatalogueError(ValueError):
    """``mappings/facts.yaml`` is malformed (raised at startup)."""


@dataclass(frozen=True)
class FactInfo:
    name: str
    label: Mapping[str, str]
    why: Mapping[str, str]
    record: str


@dataclass(frozen=True)
class FactCatalogue:
    entries: Mapping[str, FactInfo]

    def label(self, name: str, language: str) -> str:
        info = self.entries.get(name)
        if info is None:
            return name.replace("_", " ")
        return info.label.get(language) or info.label.get("en") or name

    def why(self, name: str, language: str) -> str:
        info = self.entries.get(name)
        return "" if info is None else (info.why.get(language) or info.why.get("en") or "")

    def how_to_record(self, name: str) -> str:
        info = self.entries.get(name)
        return "" if info is None else info.record


def load_fact_catalogue(package: str = "cds_service.mappings", filename: str = "facts.yaml") -> FactCatalogue:
    path = resources.files(package) / filename
    if not path.is_file():
        return FactCatalogue(entries={})
    data = safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise CatalogueError(f"{filename}: top level must map fact names to entries")
    entries: dict[str, FactInfo] = {}
    for name, raw in data.items():
        if not isinstance(raw, dict):
            raise CatalogueError(f"{filename}: {name} must be a mapping")
        label = raw.get("label") or {}
        why = raw.get("why") or {}
        if not (isinstance(label, dict) and label.get("nl") and label.get("en")):
            raise CatalogueError(f"{filename}: {name} needs label.nl and label.en")
        if not isinstance(why, dict):
            raise CatalogueError(f"{filename}: {name}.why must be a mapping with nl/en")
        entries[name] = FactInfo(name=name, label=label, why=why, record=str(raw.get("record") or ""))
    return FactCatalogue(entries=entries)
