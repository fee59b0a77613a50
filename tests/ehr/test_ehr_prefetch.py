"""The EHR's prefetch: template tokens, paging, and what is sent when a query fails."""

from __future__ import annotations

import json

import pytest
import responses

from cds_service.ehr.fhir import FhirError, FhirRestClient, outcome_text
from cds_service.ehr.prefetch import UnknownToken, fill_template, is_search, run_prefetch

BASE = "http://fhir.test/fhir"
CONTEXT = {"patientId": "bm 01", "userId": "Practitioner/dr-a", "encounterId": "e1",
           "draftOrders": {"resourceType": "Bundle"}}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient/bm%2001"),
        ("Condition?patient={{context.patientId}}&_count=200", "Condition?patient=bm%2001&_count=200"),
        ("Encounter/{{ context.encounterId }}", "Encounter/e1"),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/dr-a"),
        ("Observation?performer={{context.userId}}", "Observation?performer=Practitioner/dr-a"),
    ],
)
def test_fill_template(template: str, expected: str) -> None:
    assert fill_template(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    ["PractitionerRole/{{userPractitionerRoleId}}", "Bundle/{{context.draftOrders}}", "X/{{context.missing}}",
     "X/{{patient.id}}"],
)
def test_fill_template_refuses_what_it_cannot_fill(template: str) -> None:
    with pytest.raises(UnknownToken):
        fill_template(template, CONTEXT)


@pytest.mark.parametrize(
    ("query", "search"),
    [("Patient/p1", False), ("Condition?patient=p1", True), ("Observation", True), ("/Patient/p1", False)],
)
def test_is_search(query: str, search: bool) -> None:
    assert is_search(query) is search


def _page(ids: list[str], next_url: str | None = None, total: int | None = None) -> dict:
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "link": [{"relation": "self", "url": f"{BASE}/Observation?x"}],
              "entry": [{"resource": {"resourceType": "Observation", "id": i}} for i in ids]}
    if next_url:
        bundle["link"].append({"relation": "next", "url": next_url})
    if total is not None:
        bundle["total"] = total
    return bundle


@responses.activate
def test_search_all_follows_next_links_into_one_bundle() -> None:
    responses.get(f"{BASE}/Observation?patient=p1&_count=2", json=_page(["a", "b"], f"{BASE}/Observation?page=2", 5))
    responses.get(f"{BASE}/Observation?page=2", json=_page(["c", "d"], "Observation?page=3"))
    responses.get(f"{BASE}/Observation?page=3", json=_page(["e"]))
    merged = FhirRestClient(BASE).search_all("Observation?patient=p1&_count=2")
    assert [e["resource"]["id"] for e in merged["entry"]] == ["a", "b", "c", "d", "e"]
    assert merged["total"] == 5
    assert [link["relation"] for link in merged["link"]] == ["self"]


@responses.activate
def test_search_all_gives_up_after_max_pages() -> None:
    responses.get(f"{BASE}/Observation", json=_page(["a"], f"{BASE}/Observation"))
    with pytest.raises(FhirError, match="more than 3 pages"):
        FhirRestClient(BASE, max_pages=3).search_all("Observation")


@responses.activate
def test_errors_carry_status_and_outcome_text() -> None:
    oo = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "structure", "details": {"text": "Invalid date"}, "expression": ["Patient.x"]}]}
    responses.put(f"{BASE}/Patient/p1", json=oo, status=400)
    with pytest.raises(FhirError) as info:
        FhirRestClient(BASE).put({"resourceType": "Patient", "id": "p1"})
    assert info.value.status == 400
    assert "Invalid date (Patient.x)" in str(info.value)
    assert outcome_text(oo) == "Invalid date (Patient.x)"


class FakeFhir:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def read(self, path: str) -> dict:
        self.queries.append(path)
        if path == "Patient/missing":
            raise FhirError("not found", status=404)
        return {"resourceType": "Patient", "id": path.split("/")[1]}

    def search_all(self, query: str) -> dict:
        self.queries.append(query)
        if query.startswith("Procedure"):
            raise FhirError("HTTP 500", status=500)
        return {"resourceType": "Bundle", "type": "searchset"}


TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "encounter": "Encounter/{{context.encounterId}}",
}


def test_run_prefetch_sends_what_it_got_and_leaves_out_what_failed() -> None:
    fhir = FakeFhir()
    result = run_prefetch(TEMPLATES, {"patientId": "p1", "userId": "Practitioner/x"}, fhir)
    assert result.prefetch == {"patient": {"resourceType": "Patient", "id": "p1"},
                               "conditions": {"resourceType": "Bundle", "type": "searchset"}}
    assert set(result.failed) == {"procedures", "encounter"}
    assert fhir.queries == ["Patient/p1", "Condition?patient=p1", "Procedure?patient=p1"]


def test_run_prefetch_sends_null_for_a_resource_that_does_not_exist() -> None:
    result = run_prefetch({"patient": TEMPLATES["patient"]}, {"patientId": "missing"}, FakeFhir())
    assert result.prefetch == {"patient": None}
    assert result.not_found == {"patient": "Patient/missing"}
    assert json.dumps(result.prefetch) == '{"patient": null}'
