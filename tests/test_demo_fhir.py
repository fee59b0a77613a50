"""The read-only demo FHIR API over the bundled fixtures (``/demo/fhir``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from flask import Flask

from cds_service import demo_fhir
from cds_service.demo_fhir import demo_fhir_base
from cds_service.ehr.fixtures import FIXTURE_NOW, bundle_resources, bundled_patient_ids, read_bundles, read_cases

FHIR_JSON = "application/fhir+json"


def _bundle(pid: str, n_obs: int) -> dict:
    resources = [{"resourceType": "Patient", "id": pid, "birthDate": "1960-05-01"}]
    resources += [{"resourceType": "Observation", "id": f"{pid}-obs{i}", "status": "final", "code": {"text": "KPS"},
                   "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-11-23T09:00:00+00:00"}
                  for i in range(n_obs)]
    resources.append({"resourceType": "MedicationRequest", "id": f"{pid}-med", "status": "active", "intent": "order",
                      "subject": {"reference": f"Patient/{pid}"}, "authoredOn": "2026-11-21"})
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                      for r in resources]}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Serve two synthetic patients instead of the bundled ones; counts how often they are read."""
    count: list[int] = []

    def fake_read_bundles(ids=None, root=None):
        count.append(1)
        return {"bm-01": _bundle("bm-01", 5), "sm-02": _bundle("sm-02", 1)}

    monkeypatch.setattr(demo_fhir, "read_bundles", fake_read_bundles)
    return count


@pytest.fixture
def clock() -> Clock:
    return Clock(FIXTURE_NOW)


@pytest.fixture
def client(reads, clock):
    app = Flask("demo")
    app.extensions["cds"] = SimpleNamespace(clock=clock)
    app.register_blueprint(demo_fhir.blueprint, url_prefix="/demo/fhir")
    return app.test_client()


def test_demo_fhir_base() -> None:
    assert demo_fhir_base("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/demo/fhir"
    assert demo_fhir_base("https://cds.example.org") == "https://cds.example.org/demo/fhir"


def test_metadata(client) -> None:
    response = client.get("/demo/fhir/metadata")
    assert response.status_code == 200
    assert response.mimetype == FHIR_JSON
    body = response.get_json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    assert [r["type"] for r in body["rest"][0]["resource"]] == ["MedicationRequest", "Observation", "Patient"]


def test_read(client) -> None:
    response = client.get("/demo/fhir/Patient/bm-01")
    assert response.status_code == 200
    assert response.mimetype == FHIR_JSON
    assert response.get_json() == {"resourceType": "Patient", "id": "bm-01", "birthDate": "1960-05-01"}


@pytest.mark.parametrize("path", ["/demo/fhir/Patient/nope", "/demo/fhir/Condition/bm-01-obs0",
                                  "/demo/fhir/Patient/bm-01/_history/1"])
def test_unknown_is_404_operation_outcome(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == FHIR_JSON
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize("value", ["bm-01", "Patient/bm-01", "http://elsewhere/fhir/Patient/bm-01"])
@pytest.mark.parametrize("param", ["patient", "subject"])
def test_search_by_patient(client, param: str, value: str) -> None:
    response = client.get(f"/demo/fhir/Observation?{param}={value}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["resourceType"], body["type"], body["total"]) == ("Bundle", "searchset", 5)
    assert [e["resource"]["id"] for e in body["entry"]] == [f"bm-01-obs{i}" for i in range(5)]
    assert body["entry"][0]["fullUrl"] == "http://localhost/demo/fhir/Observation/bm-01-obs0"
    assert body["entry"][0]["search"] == {"mode": "match"}
    assert [link["relation"] for link in body["link"]] == ["self"]


def test_search_pages_with_next_links(client) -> None:
    ids: list[str] = []
    url = "/demo/fhir/Observation?patient=bm-01&_count=2"
    pages = 0
    while url:
        body = client.get(url).get_json()
        assert body["total"] == 5
        ids += [e["resource"]["id"] for e in body["entry"]]
        links = {link["relation"]: link["url"] for link in body["link"]}
        assert links["self"].startswith("http://localhost/demo/fhir/Observation?")
        url = links.get("next", "").removeprefix("http://localhost")
        pages += 1
    assert pages == 3
    assert ids == [f"bm-01-obs{i}" for i in range(5)]


def test_search_of_a_type_the_patient_lacks_is_empty(client) -> None:
    body = client.get("/demo/fhir/Condition?patient=bm-01&_count=200").get_json()
    assert body["total"] == 0
    assert "entry" not in body


def test_search_by_id_and_count_zero(client) -> None:
    body = client.get("/demo/fhir/Patient?_id=sm-02,bm-01").get_json()
    assert sorted(e["resource"]["id"] for e in body["entry"]) == ["bm-01", "sm-02"]
    body = client.get("/demo/fhir/Observation?patient=bm-01&_count=0").get_json()
    assert body["total"] == 5 and "entry" not in body


@pytest.mark.parametrize("query", ["patient=bm-01&_count=2", "patient=Patient%2Fbm-01&_count=2&_offset=2",
                                   "_id=sm-02,bm-01", "patient=bm-01&code=x"])
def test_post_search_is_answered_like_get(client, query: str) -> None:
    """POST [type]/_search with form parameters is a read (the CDS Hooks sandbox searches this way first)."""
    rtype = "Patient" if query.startswith("_id") else "Observation"
    posted = client.post(f"/demo/fhir/{rtype}/_search", data=query,
                         content_type="application/x-www-form-urlencoded")
    got = client.get(f"/demo/fhir/{rtype}?{query}")
    assert posted.status_code == got.status_code
    assert posted.mimetype == FHIR_JSON
    assert posted.get_json() == got.get_json()


def test_post_search_merges_url_and_form_parameters(client) -> None:
    body = client.post("/demo/fhir/Observation/_search?_count=2", data={"patient": "bm-01"}).get_json()
    assert body["total"] == 5 and len(body["entry"]) == 2
    assert any(link["relation"] == "next" for link in body["link"])
    assert client.get("/demo/fhir/Observation/_search?patient=bm-01").get_json()["total"] == 5


def test_post_search_takes_only_form_parameters(client) -> None:
    response = client.post("/demo/fhir/Observation/_search", json={"patient": "bm-01"})
    assert response.status_code == 415
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert client.put("/demo/fhir/Observation/_search", data={"patient": "bm-01"}).status_code == 405


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("code=http://loinc.org|89243-0", 400, "unsupported search parameter(s): code"),
        ("patient=bm-01&_count=many", 400, "_count and _offset must be whole numbers"),
        ("patient=Group/g1", 400, "must be a Patient reference"),
    ],
)
def test_bad_searches_are_refused(client, query: str, status: int, text: str) -> None:
    response = client.get(f"/demo/fhir/Observation?{query}")
    assert response.status_code == status
    assert text in response.get_json()["issue"][0]["details"]["text"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/demo/fhir"), ("post", "/demo/fhir/Patient"), ("put", "/demo/fhir/Patient/bm-01"),
     ("delete", "/demo/fhir/Patient/bm-01"), ("patch", "/demo/fhir/Patient/bm-01"), ("post", "/demo/fhir/metadata")],
)
def test_writes_are_refused(client, method: str, path: str) -> None:
    response = getattr(client, method)(path, json={"resourceType": "Patient", "id": "bm-01"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.get_json()["issue"][0]["code"] == "not-supported"
    assert client.get("/demo/fhir/Patient/bm-01").get_json()["birthDate"] == "1960-05-01"


def test_dates_follow_the_app_clock(client, clock: Clock) -> None:
    clock.now = FIXTURE_NOW + timedelta(days=10, hours=3)
    obs = client.get("/demo/fhir/Observation/bm-01-obs0").get_json()
    assert obs["effectiveDateTime"] == "2026-12-03T09:00:00+00:00"  # whole days: 09:00 stays 09:00
    med = client.get("/demo/fhir/MedicationRequest/bm-01-med").get_json()
    assert med["authoredOn"] == "2026-12-01"
    assert client.get("/demo/fhir/Patient/bm-01").get_json()["birthDate"] == "1960-05-11"


def test_loaded_once_and_again_only_when_the_day_changes(client, clock: Clock, reads: list[int]) -> None:
    for _ in range(3):
        client.get("/demo/fhir/Patient/bm-01")
    clock.now = FIXTURE_NOW + timedelta(hours=5)  # same day: same data
    client.get("/demo/fhir/Observation?patient=bm-01")
    assert len(reads) == 1
    clock.now = FIXTURE_NOW + timedelta(days=1)
    assert client.get("/demo/fhir/Observation/bm-01-obs0").get_json()["effectiveDateTime"].startswith("2026-11-24T09")
    assert len(reads) == 2


def test_without_an_app_clock_dates_move_to_the_real_now(reads) -> None:
    app = Flask("bare")
    app.register_blueprint(demo_fhir.blueprint, url_prefix="/demo/fhir")
    obs = app.test_client().get("/demo/fhir/Observation/bm-01-obs0").get_json()
    moved = datetime.fromisoformat(obs["effectiveDateTime"])
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    assert (moved.date(), moved.time().isoformat()) in {(yesterday, "09:00:00"),
                                                        (yesterday + timedelta(days=1), "09:00:00")}  # midnight


@pytest.fixture(scope="module")
def bundled_client():
    """The real bundled fixtures, read once for all patients."""
    app = Flask("bundled")
    app.extensions["cds"] = SimpleNamespace(clock=lambda: FIXTURE_NOW)
    app.register_blueprint(demo_fhir.blueprint, url_prefix="/demo/fhir")
    return app.test_client()


@pytest.mark.parametrize("patient_id", bundled_patient_ids())
def test_every_bundled_patient_is_served(bundled_client, patient_id: str) -> None:
    client = bundled_client
    resources = bundle_resources(read_bundles([patient_id])[patient_id])
    assert client.get(f"/demo/fhir/Patient/{patient_id}").get_json()["id"] == patient_id
    for resource in resources:
        served = client.get(f"/demo/fhir/{resource['resourceType']}/{resource['id']}").get_json()
        assert served == resource  # at FIXTURE_NOW nothing is shifted


# -- the real service, fetching from its own demo FHIR API ------------------------------------

DEMO_CASES = [(c, s) for c in read_cases() for s in c.get("expect") or {}
              if not c.get("now") and not c.get("unavailable")]  # the demo serves every key, at the clock's day


@pytest.fixture(scope="module")
def demo_service(tmp_path_factory):
    """``cds-service serve`` as a new user runs it: demo FHIR on, no allow-list, clock at FIXTURE_NOW."""
    import threading

    from werkzeug.serving import make_server

    from cds_service.app import create_app
    from cds_service.config import Config

    config = Config(demo_fhir=True, fixed_now=FIXTURE_NOW,
                    database=str(tmp_path_factory.mktemp("demo") / "feedback.sqlite3"))
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    app.extensions["cds"].close()


@pytest.mark.parametrize(("case", "service_id"), DEMO_CASES, ids=[f"{c['id']}:{s}" for c, s in DEMO_CASES])
def test_services_read_the_demo_fhir_api(demo_service, case: dict, service_id: str) -> None:
    import requests

    import uuid

    from cds_service.ehr.fixtures import case_context
    from cds_service.services import SERVICES_BY_ID

    hook = SERVICES_BY_ID[service_id].hook
    body = {"hookInstance": str(uuid.uuid4()), "hook": hook, "fhirServer": demo_fhir_base(demo_service),
            "context": case_context(case, hook)}
    response = requests.post(f"{demo_service}/cds-services/{service_id}", json=body, timeout=60)
    assert response.status_code == 200, response.text[:500]
    rules = [card["source"]["topic"]["code"] for card in response.json()["cards"]]
    assert sorted(rules) == sorted(case["expect"][service_id])
