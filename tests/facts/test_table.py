"""describe_facts: the facts table the CLI prints next to the cards."""

from __future__ import annotations

import pytest

from cds_service.facts.table import FactRow, describe_facts, format_table

from .helpers import LNC, concept, extract, local, obs


@pytest.fixture(scope="module")
def facts():
    return extract(obs((LNC, "89247-1"), {"valueInteger": 1}, days=3, rid="e1"),
                   obs((LNC, "718-7"), {"valueQuantity": {"value": 12.5, "code": "g/dL"}}, days=45, rid="hb"),
                   obs(local("critical-location"), {"valueCodeableConcept": concept(local("none"))}, rid="cl"),
                   unavailable=["medicationRequests"])


@pytest.mark.parametrize("language,name,value,status,source", [
    ("nl", "kps", "80 — afgeleid van ecog", "known", "Observation/e1"),
    ("en", "kps", "80 — derived from ecog", "known", "Observation/e1"),
    ("nl", "hemoglobin_g_dl", "12,5 (verouderd)", "stale", "Observation/hb"),
    ("en", "hemoglobin_g_dl", "12.5 (out of date)", "stale", "Observation/hb"),
    ("en", "critical_location", "no", "known", "Observation/cl"),
    ("nl", "critical_location", "nee", "known", "Observation/cl"),
    ("en", "treatment_wish", "unknown", "unknown", ""),
    ("en", "dexamethasone_active", "unknown (source unavailable) — could not be retrieved: medicationRequests",
     "unknown", ""),
])
def test_rows(facts, language, name, value, status, source) -> None:
    (row,) = [r for r in describe_facts(facts, language) if r.name == name]
    assert (row.value, row.status, row.source) == (value, status, source)


def test_labels_dates_and_order(facts) -> None:
    rows = describe_facts(facts, "nl", names=["kps", "age_years"])
    assert [r.name for r in rows] == ["age_years", "kps"]  # catalogue order
    assert rows[1] == FactRow("kps", "Karnofsky-score (KPS)", "80 — afgeleid van ecog", "known", "2026-11-21",
                              "Observation/e1")


def test_every_fact_gets_a_row(facts) -> None:
    assert {r.name for r in describe_facts(facts, "en")} == set(facts)


def test_format_table(facts) -> None:
    text = format_table(describe_facts(facts, "en", names=["kps"]), "en")
    lines = text.splitlines()
    assert lines[0].split() == ["Fact", "Value", "Status", "Date", "Source"]
    assert "Karnofsky performance status (KPS)" in lines[2] and "Observation/e1" in lines[2]
