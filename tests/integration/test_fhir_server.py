"""The Node FHIR server itself: what the integration suite and the demo rely on.

Resources here belong to patients ``it-*``, which no fixture case uses.
"""

from __future__ import annotations

import pytest
import requests

from cds_service.ehr.fhir import FhirError, FhirRestClient
from cds_service.ehr.fixtures import FixtureLoader

pytestmark = pytest.mark.integration

LOINC_KPS = ("http://loinc.org", "89243-0")


def _obs(pid: str, n: int, day: int, code: tuple[str, str] = LOINC_KPS) -> dict:
    return {"resourceType": "Observation", "id": f"{pid}-obs{n}", "status": "final",
            "code": {"coding": [{"system": code[0], "code": code[1]}]}, "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": f"2026-11-{day:02d}T09:00:00+00:00", "valueInteger": 70}


def _bundle(pid: str, observations: list[dict]) -> dict:
    resources = [{"resourceType": "Patient", "id": pid, "birthDate": "1960-05-01"}, *observations]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


@pytest.fixture(scope="module")
def fhir(fhir_server) -> FhirRestClient:
    client = FhirRestClient(fhir_server.base)
    observations = [_obs("it-1", n, day=1 + n) for n in range(25)]
    observations.append(_obs("it-1", 99, day=28, code=("http://loinc.org", "89247-1")))
    [result] = FixtureLoader(client).load({"it-1": _bundle("it-1", observations)})
    assert result.ok and result.transactions == 1
    return client


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry") or ()]


def test_prints_its_base_and_binds_loopback(fhir_server) -> None:
    assert fhir_server.base.startswith("http://127.0.0.1:")
    assert fhir_server.base.endswith("/fhir")


def test_metadata(fhir) -> None:
    response = requests.get(fhir.url("metadata"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert (body["resourceType"], body["fhirVersion"]) == ("CapabilityStatement", "4.0.1")
    assert {"Observation", "Patient", "ServiceRequest"} <= {r["type"] for r in body["rest"][0]["resource"]}


def test_read_and_update(fhir) -> None:
    first = fhir.put({"resourceType": "Patient", "id": "it-2", "gender": "male"})
    again = fhir.put({"resourceType": "Patient", "id": "it-2", "gender": "female"})
    assert first["meta"]["versionId"] != again["meta"]["versionId"]
    read = requests.get(fhir.url("Patient/it-2"), timeout=10)
    assert read.json()["gender"] == "female"
    assert read.headers["ETag"] == f'W/"{again["meta"]["versionId"]}"'


@pytest.mark.parametrize(
    ("resource", "text"),
    [
        ({"resourceType": "Patient", "id": "it-bad", "birthDate": "1960-13-01"}, "Invalid date format"),
        ({"resourceType": "Observation", "id": "it-bad", "status": "final"}, "Missing required property"),
        ({"resourceType": "Patient", "id": "it-bad", "favouriteColour": "blue"}, "Invalid additional property"),
    ],
)
def test_writes_are_validated_against_r4(fhir, resource: dict, text: str) -> None:
    with pytest.raises(FhirError) as info:
        fhir.put(resource)
    assert info.value.status == 400
    assert info.value.body["resourceType"] == "OperationOutcome"
    assert text in str(info.value)
    with pytest.raises(FhirError) as missing:
        fhir.read("Patient/it-bad")
    assert missing.value.status == 404


def test_invalid_entry_fails_the_whole_transaction(fhir) -> None:
    bundle = _bundle("it-3", [_obs("it-3", 1, day=2), {**_obs("it-3", 2, day=3), "status": None}])
    with pytest.raises(FhirError) as info:
        fhir.transaction(bundle)
    assert info.value.status == 400
    with pytest.raises(FhirError):
        fhir.read("Patient/it-3")


def test_transactions_take_at_most_50_updates(fhir) -> None:
    fifty = _bundle("it-4", [_obs("it-4", n, day=1) for n in range(49)])
    assert len(fifty["entry"]) == 50
    response = fhir.transaction(fifty)
    assert response["type"] == "transaction-response"
    assert all(e["response"]["status"].startswith("2") for e in response["entry"])
    with pytest.raises(FhirError, match="more update operations than allowed") as info:
        fhir.transaction(_bundle("it-5", [_obs("it-5", n, day=1) for n in range(50)]))
    assert info.value.status == 400


@pytest.mark.parametrize("query", ["Observation?patient=it-1", "Observation?subject=Patient/it-1",
                                   "Observation?patient=Patient/it-1"])
def test_reference_search(fhir, query: str) -> None:
    bundle = fhir.read(query + "&_count=100")
    assert bundle["total"] == 26
    assert len(bundle["entry"]) == 26


def test_token_and_date_search(fhir) -> None:
    ecog = fhir.read("Observation?patient=it-1&code=http://loinc.org|89247-1")
    assert _ids(ecog) == ["it-1-obs99"]
    late = fhir.read("Observation?patient=it-1&code=http://loinc.org|89243-0&date=ge2026-11-24")
    assert sorted(_ids(late)) == ["it-1-obs23", "it-1-obs24"]
    assert fhir.read("Observation?patient=it-1&date=lt2026-11-02")["total"] == 1


def test_sort_and_count(fhir) -> None:
    newest = fhir.read("Observation?patient=it-1&_sort=-date&_count=3")
    assert _ids(newest) == ["it-1-obs99", "it-1-obs24", "it-1-obs23"]
    oldest = fhir.read("Observation?patient=it-1&_sort=date&_count=1")
    assert _ids(oldest) == ["it-1-obs0"]


def test_paging_links_point_back_at_the_server(fhir, fhir_server) -> None:
    first = fhir.read("Observation?patient=it-1&_count=10&_sort=date")
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert links["self"].startswith(fhir_server.base + "/Observation?")
    assert links["next"].startswith(fhir_server.base + "/Observation?")
    assert first["entry"][0]["fullUrl"] == f"{fhir_server.base}/Observation/it-1-obs0"
    pages = list(fhir.search_pages("Observation?patient=it-1&_count=10&_sort=date"))
    assert [len(p["entry"]) for p in pages] == [10, 10, 6]
    ids = [i for p in pages for i in _ids(p)]
    assert ids == [f"it-1-obs{n}" for n in range(25)] + ["it-1-obs99"]


def test_default_page_size_is_20(fhir) -> None:
    page = fhir.read("Observation?patient=it-1")
    assert len(page["entry"]) == 20
    assert "next" in {link["relation"] for link in page["link"]}
    assert len(fhir.search_all("Observation?patient=it-1")["entry"]) == 26


def test_loading_twice_does_not_duplicate(fhir) -> None:
    bundle = _bundle("it-6", [_obs("it-6", n, day=5) for n in range(3)])
    loader = FixtureLoader(fhir)
    loader.load({"it-6": bundle})
    loader.load({"it-6": bundle})
    assert fhir.read("Observation?patient=it-6&_count=0")["total"] == 3


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [("GET", "/nope", None, 404), ("GET", "/fhir/Patient/it-none", None, 404), ("POST", "/fhir", "{not json", 400),
     ("POST", "/fhir", '{"resourceType": "Patient"}', 400)],
)
def test_errors_are_operation_outcomes(fhir_server, method: str, path: str, data: str | None, status: int) -> None:
    root = fhir_server.base.removesuffix("/fhir")
    response = requests.request(method, root + path, data=data, timeout=10,
                                headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"


def test_browser_clients_may_call_it(fhir_server) -> None:
    preflight = requests.options(f"{fhir_server.base}/Patient/it-1", timeout=10, headers={
        "Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    read = requests.get(f"{fhir_server.base}/metadata", timeout=10, headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert read.headers["Access-Control-Allow-Origin"] == "*"
