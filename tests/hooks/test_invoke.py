"""POST /cds-services/{id}: validation, prefetch fallback over HTTP, language, cards, issued-card records."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from hook_support import FHIR, NOW, bundle, hook_request

from cds_service.cards.validate import check_response
from cds_service.fhir.prefetch import FETCH_FAILED
from cds_service.services import PREFETCH, SERVICES

URL = "/cds-services/brain-metastases"
AUTH = {"access_token": "tok-123", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
        "subject": "cds-client"}


def post(client, body, url=URL, **kw):
    return client.post(url, data=json.dumps(body), content_type=kw.pop("content_type", "application/json"), **kw)


# -- success ----------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES, ids=[s.id for s in SERVICES])
def test_each_service_answers_its_hook_with_valid_cards(client, service):
    response = post(client, hook_request(service.hook), url=f"/cds-services/{service.id}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    check_response(body)
    assert [c["source"]["topic"]["code"] for c in body["cards"]] == ["DATA-MISSING"]


@pytest.mark.parametrize("content_type", ["application/json;charset=utf-8", "application/json; charset=UTF-8"])
def test_json_with_charset_is_accepted(client, content_type):
    assert post(client, hook_request(), content_type=content_type).status_code == 200


def test_the_engine_gets_the_prefetched_resources_and_the_clock(client, app, engine):
    post(client, hook_request())
    call = engine.extractor.calls[-1]
    assert call["now"] == NOW
    assert {f"{r['resourceType']}/{r['id']}" for r in call["resources"]} == {
        "Patient/p1", "Condition/c1", "Observation/o1"}
    assert call["unavailable"] == frozenset()


@pytest.mark.parametrize(
    "header, config_language, summary",
    [
        (None, "nl", "Leg vast voor het richtlijnadvies: "),
        (None, "en", "Record for the guideline advice: "),
        ("en-GB,en;q=0.9", "nl", "Record for the guideline advice: "),
        ("nl-NL", "en", "Leg vast voor het richtlijnadvies: "),
        ("de-DE", "en", "Record for the guideline advice: "),
        ("*", "en", "Record for the guideline advice: "),
    ],
)
def test_accept_language_overrides_the_configured_language(make_app, header, config_language, summary):
    client = make_app(language=config_language).test_client()
    headers = {"Accept-Language": header} if header else {}
    response = post(client, hook_request(), headers=headers)
    assert response.get_json()["cards"][0]["summary"].startswith(summary)


def test_issued_cards_are_recorded_for_the_feedback_report(client, app):
    card = post(client, hook_request()).get_json()["cards"][0]
    store = app.extensions["cds"].store
    store.flush()
    assert store.issued_rule(card["uuid"]) == "DATA-MISSING"


def test_unknown_fields_and_extensions_are_ignored(client):
    body = hook_request(extension={"x": 1}, futureField=True)
    body["context"]["extension"] = {"y": 2}
    assert post(client, body).status_code == 200


# -- 4xx ----------------------------------------------------------------------------------------

def _without(path: str):
    def mutate(body):
        *parents, last = path.split(".")
        target = body
        for p in parents:
            target = target[p]
        del target[last]
    return mutate


def _set(path: str, value):
    def mutate(body):
        *parents, last = path.split(".")
        target = body
        for p in parents:
            target = target[p]
        target[last] = value
    return mutate


BAD_REQUESTS = [
    ("patient-view", _set("hook", "order-sign"), "hook", "does not match service"),
    ("patient-view", _without("hook"), "hook", "hook is required"),
    ("patient-view", _without("hookInstance"), "hookInstance", "hookInstance is required"),
    ("patient-view", _set("hookInstance", ""), "hookInstance", "hookInstance is required"),
    ("patient-view", _without("context"), "context", "context is required"),
    ("patient-view", _set("context", []), "context", "context is required"),
    ("patient-view", _without("context.userId"), "context.userId", "required for patient-view"),
    ("patient-view", _without("context.patientId"), "context.patientId", "required for patient-view"),
    ("patient-view", _set("context.patientId", "Patient/p1"), "context.patientId", "must be a FHIR id"),
    ("patient-view", _set("context.userId", "u1"), "context.userId", "must be a reference"),
    ("patient-view", _set("context.encounterId", "e 1"), "context.encounterId", "must be a FHIR id"),
    ("order-select", _without("context.selections"), "context.selections", "required for order-select"),
    ("order-select", _without("context.draftOrders"), "context.draftOrders", "required for order-select"),
    ("order-select", _set("context.selections", "ServiceRequest/sr1"), "context.selections", "must be a list"),
    ("order-sign", _without("context.draftOrders"), "context.draftOrders", "required for order-sign"),
    ("order-sign", _set("context.draftOrders", ["x"]), "context.draftOrders", "must be a FHIR Bundle"),
    ("order-sign", _without("context.userId"), "context.userId", "required for order-sign"),
    ("patient-view", _set("fhirAuthorization", AUTH), "fhirAuthorization", "only allowed together with fhirServer"),
    ("patient-view", _set("fhirServer", "not a url"), "fhirServer", "absolute http(s) URL"),
    ("patient-view", _set("prefetch", ["x"]), "prefetch", "must be a JSON object"),
    ("patient-view", _set("prefetch.conditions", "Condition/1"), "prefetch.conditions", "FHIR resource, a Bundle"),
]


@pytest.mark.parametrize("hook, mutate, field, message", BAD_REQUESTS,
                         ids=[f"{b[0]}:{b[2]}:{b[3]}" for b in BAD_REQUESTS])
def test_bad_requests_are_400_naming_the_problem(client, hook, mutate, field, message):
    service = next(s for s in SERVICES if s.hook == hook)
    body = hook_request(hook)
    mutate(body)
    response = post(client, body, url=f"/cds-services/{service.id}")
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "bad-request"
    assert payload["field"] == field
    assert message in payload["message"]


@pytest.mark.parametrize("missing", ["access_token", "token_type", "scope", "subject"])
def test_fhir_authorization_needs_its_required_fields(client, missing):
    auth = {k: v for k, v in AUTH.items() if k != missing}
    response = post(client, hook_request(fhirServer=FHIR, fhirAuthorization=auth))
    assert response.status_code == 400
    assert response.get_json()["field"] == f"fhirAuthorization.{missing}"


def test_fhir_authorization_without_expires_in_is_tolerated(client):
    """The reference sandbox omits expires_in (sandbox#65)."""
    auth = {k: v for k, v in AUTH.items() if k != "expires_in"}
    assert post(client, hook_request(fhirServer=FHIR, fhirAuthorization=auth)).status_code == 200


def test_token_type_must_be_bearer(client):
    response = post(client, hook_request(fhirServer=FHIR, fhirAuthorization={**AUTH, "token_type": "MAC"}))
    assert response.status_code == 400
    assert response.get_json()["field"] == "fhirAuthorization.token_type"


@pytest.mark.parametrize("data, message", [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object"),
                                           ("null", "not valid JSON")])
def test_malformed_json_is_400(client, data, message):
    response = client.post(URL, data=data, content_type="application/json")
    assert response.status_code == 400
    assert message in response.get_json()["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_is_415(client, content_type):
    kw = {"content_type": content_type} if content_type else {}
    response = client.post(URL, data=json.dumps(hook_request()), **kw)
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported-media-type"


def test_unknown_service_is_404_json(client):
    response = post(client, hook_request(), url="/cds-services/no-such-service")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not-found", "message": (
        "Unknown CDS service 'no-such-service'; GET /cds-services lists the services")}


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_wrong_method_is_405_json(client, method):
    response = getattr(client, method)(URL)
    assert response.status_code == 405
    assert response.get_json()["error"] == "method-not-allowed"
    assert "POST" in response.headers["Allow"]


@responses.activate
@responses.activate  # a fresh call list: any request to the unlisted server would be recorded here
def test_unlisted_fhir_server_is_400_and_never_contacted(make_app):
    client = make_app(allowed_fhir_servers=(FHIR,)).test_client()
    body = hook_request(fhirServer="https://evil.example.com/fhir", fhirAuthorization=AUTH)
    del body["prefetch"]["conditions"]
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "fhir-server-not-allowed"
    assert len(responses.calls) == 0


def test_412_names_the_missing_required_data(client):
    body = hook_request()
    del body["prefetch"]["conditions"], body["prefetch"]["procedures"]
    response = post(client, body)
    assert response.status_code == 412
    payload = response.get_json()
    assert payload["error"] == "precondition-failed"
    assert payload["missing"] == [{"key": "conditions", "query": PREFETCH["conditions"].query,
                                   "reason": "not prefetched and no fhirServer given"}]


def test_sandbox_without_prefetch_and_without_fhir_server_is_412(client):
    body = hook_request()
    del body["prefetch"]
    response = post(client, body)
    assert response.status_code == 412
    assert [m["key"] for m in response.get_json()["missing"]] == ["patient", "conditions", "observations"]


# -- prefetch fallback over HTTP ------------------------------------------------------------------

def _search(key):
    return f"{FHIR}/{PREFETCH[key].resource_type}"


@responses.activate
def test_missing_key_is_fetched_with_the_bearer_token(client, engine):
    body = hook_request(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["observations"]
    body["prefetch"]["conditions"] = None  # null: no data, not fetched
    responses.get(_search("observations"), json=bundle({"resourceType": "Observation", "id": "o-fetched"}))
    response = post(client, body)
    assert response.status_code == 200
    assert [c.request.url for c in responses.calls] == [f"{FHIR}/Observation?patient=p1&_count=500"]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok-123"
    ids = {r["id"] for r in engine.extractor.calls[-1]["resources"]}
    assert "o-fetched" in ids and "c1" not in ids


@responses.activate
def test_operation_outcome_in_prefetch_is_fetched(client, engine):
    body = hook_request(fhirServer=FHIR)
    body["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    responses.get(_search("conditions"), json=bundle({"resourceType": "Condition", "id": "c-fetched"}))
    assert post(client, body).status_code == 200
    assert len(responses.calls) == 1
    assert "c-fetched" in {r["id"] for r in engine.extractor.calls[-1]["resources"]}


@responses.activate
def test_operation_outcome_without_fhir_server_is_missing(client):
    body = hook_request()
    body["prefetch"]["observations"] = {"resourceType": "OperationOutcome"}
    response = post(client, body)
    assert response.status_code == 412
    assert response.get_json()["missing"][0]["reason"] == (
        "prefetch held an OperationOutcome and no fhirServer given")


@pytest.mark.parametrize("failure, reason", [
    ({"status": 500}, FETCH_FAILED),
    ({"body": requests.exceptions.ReadTimeout()}, FETCH_FAILED),
])
@responses.activate
def test_fhir_failure_on_a_required_key_is_412(client, failure, reason):
    body = hook_request(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["observations"]
    responses.get(_search("observations"), **failure)
    response = post(client, body)
    assert response.status_code == 412
    assert response.get_json()["missing"] == [{"key": "observations", "query": PREFETCH["observations"].query,
                                               "reason": reason}]


@pytest.mark.parametrize("failure", [{"status": 500}, {"body": requests.exceptions.ReadTimeout()}])
@responses.activate
def test_fhir_failure_on_an_optional_key_is_200_with_a_card_note(client, engine, failure):
    body = hook_request(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["procedures"]
    responses.get(_search("procedures"), **failure)
    response = post(client, body)
    assert response.status_code == 200
    assert engine.extractor.calls[-1]["unavailable"] == frozenset({"procedures"})
    detail = response.get_json()["cards"][0]["detail"]
    assert "Let op: de verrichtingen niet beschikbaar (ophalen mislukt)" in detail


# -- the real engine (runs once the facts and pathway layers exist) ---------------------------------

@pytest.mark.real_engine
def test_real_engine_answers_every_service(make_app, real_engine):
    client = make_app(engine_=real_engine).test_client()
    for service in SERVICES:
        response = post(client, hook_request(service.hook), url=f"/cds-services/{service.id}")
        assert response.status_code == 200, response.get_json()
        check_response(response.get_json())


@pytest.mark.real_engine
def test_real_engine_with_only_an_empty_patient_reports_missing_data(make_app, real_engine):
    client = make_app(engine_=real_engine).test_client()
    body = hook_request(prefetch={**{k: None for k in PREFETCH}, "patient": {"resourceType": "Patient", "id": "p1"}})
    response = post(client, body, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    check_response({"cards": cards})
    assert all(c["indicator"] in ("info", "warning", "critical") for c in cards)


# -- the embedded demo FHIR server ------------------------------------------------------------------

DEMO = "http://localhost/demo/fhir"


@responses.activate
def test_demo_fhir_base_is_an_allowed_fhir_server_fetched_over_http(make_app, engine):
    app = make_app(demo_fhir=True, allowed_fhir_servers=("https://fhir.example.org/r4",))
    assert any(rule.rule.startswith("/demo/fhir") for rule in app.url_map.iter_rules())
    body = hook_request(fhirServer=DEMO)
    del body["prefetch"]["conditions"]
    responses.get(f"{DEMO}/Condition", json=bundle({"resourceType": "Condition", "id": "c-demo"}))
    response = post(app.test_client(), body)
    assert response.status_code == 200
    assert [c.request.url for c in responses.calls] == [f"{DEMO}/Condition?patient=p1&_count=200"]
    assert "c-demo" in {r["id"] for r in engine.extractor.calls[-1]["resources"]}


@pytest.mark.parametrize("config", [
    {"demo_fhir": False},
    {"demo_fhir": True, "production": True},
])
def test_demo_base_is_not_allowed_when_off_or_from_a_host_header_in_production(make_app, config):
    client = make_app(allowed_fhir_servers=("https://fhir.example.org/r4",), **config).test_client()
    body = hook_request(fhirServer="http://evil.example.com/demo/fhir")
    response = post(client, body, headers={"Host": "evil.example.com"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "fhir-server-not-allowed"


def test_demo_base_from_public_base_url_in_production(make_app):
    client = make_app(demo_fhir=True, production=True, allowed_fhir_servers=("https://fhir.example.org/r4",),
                      public_base_url="https://cds.example.org").test_client()
    body = hook_request(fhirServer="https://cds.example.org/demo/fhir")
    assert post(client, body).status_code == 200  # everything prefetched: allowed, nothing fetched


def test_no_prefetch_call_fetches_from_the_embedded_demo_fhir_over_real_http(make_app, engine):
    """End to end through a real socket: the service calls its own /demo/fhir like any FHIR server."""
    import threading
    from importlib import resources as ir

    from werkzeug.serving import make_server

    patients = sorted(p for p in (ir.files("cds_service.fixtures") / "patients").iterdir() if p.name.endswith(".json"))
    if not patients:
        pytest.skip("no fixture patients yet")
    fixture = json.loads(patients[0].read_text(encoding="utf-8"))
    patient_id = next(e["resource"]["id"] for e in fixture["entry"] if e["resource"]["resourceType"] == "Patient")

    app = make_app(demo_fhir=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        body = hook_request(fhirServer=f"{base}/demo/fhir")
        del body["prefetch"]
        body["context"]["patientId"] = patient_id
        response = requests.post(f"{base}/cds-services/brain-metastases", json=body, timeout=30)
    finally:
        server.shutdown()
        thread.join(5)
    assert response.status_code == 200, response.text
    resources = engine.extractor.calls[-1]["resources"]
    assert {"resourceType": "Patient", "id": patient_id}.items() <= next(
        r for r in resources if r["resourceType"] == "Patient").items()
    assert engine.extractor.calls[-1]["unavailable"] == frozenset()
