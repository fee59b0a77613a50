"""Every patient in fixtures/ loads completely into a real, validating FHIR server.

``load-fixtures`` sends them to whatever server a user names, so none may hold a resource a real server
refuses; the deliberately malformed test patients live in tests/data and are refused as they should be.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_service.ehr.fhir import FhirRestClient
from cds_service.ehr.fixtures import FixtureLoader, bundled_patient_ids

pytestmark = pytest.mark.integration

TEST_DATA = Path(__file__).resolve().parents[1] / "data" / "patients"


def test_every_fixture_patient_loads_completely(loaded_fhir) -> None:
    assert loaded_fhir.refused == {}, f"the FHIR server refused fixture resources: {loaded_fhir.refused}"
    assert sorted(loaded_fhir.patient_ids) == bundled_patient_ids()
    patients = loaded_fhir.client.search_all("Patient?_count=1000")
    stored = {e["resource"]["id"] for e in patients.get("entry", [])}
    assert set(bundled_patient_ids()) <= stored


def test_conditions_on_the_server_have_a_text(loaded_fhir) -> None:
    """EHR pickers (the CDS Hooks sandbox's condition list) show code.text."""
    conditions = loaded_fhir.client.search_all("Condition?_count=1000").get("entry", [])
    assert conditions
    assert [e["resource"]["id"] for e in conditions if not (e["resource"].get("code") or {}).get("text")] == []


def test_the_malformed_test_patients_are_refused(fhir_server) -> None:
    bundles = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(TEST_DATA.glob("*.json"))}
    assert bundles, "tests/data/patients holds the malformed patients"
    results = FixtureLoader(FhirRestClient(fhir_server.base)).load(bundles)
    assert all(not r.ok for r in results), "a malformed test patient loaded: move it back to fixtures/"
