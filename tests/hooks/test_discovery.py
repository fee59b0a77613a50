"""GET /cds-services, /healthz and /metrics."""

from __future__ import annotations

from hook_support import hook_request

from cds_service.services import PREFETCH

EXPECTED = {
    "brain-metastases": "patient-view",
    "spinal-metastases": "patient-view",
    "leptomeningeal-metastases": "patient-view",
    "neuro-oncology-order-select": "order-select",
    "neuro-oncology-order-sign": "order-sign",
}


def test_discovery_lists_exactly_the_five_services(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    services = response.get_json()["services"]
    assert {s["id"]: s["hook"] for s in services} == EXPECTED
    for s in services:
        assert s["title"] and s["description"]
        assert s["prefetch"] and all(s["prefetch"][k] == PREFETCH[k].query for k in s["prefetch"])


def test_prefetch_templates_use_only_spec_tokens(client):
    for s in client.get("/cds-services").get_json()["services"]:
        for query in s["prefetch"].values():
            assert "{{context.patientId}}" in query
            assert "Patient/{{context.userId}}" not in query
            assert "sort:desc" not in query


def test_discovery_has_no_null_or_empty_values(client):
    def walk(value):
        assert value not in (None, "", [], {})
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(client.get("/cds-services").get_json())


def test_discovery_refuses_post(client):
    response = client.post("/cds-services", json={})
    assert response.status_code == 405
    assert response.get_json()["error"] == "method-not-allowed"


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["feedbackDatabase"] == "sqlite"
    assert body["services"] == 5


def test_healthz_is_liveness_and_readyz_follows_the_database(app, client):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert (ready.get_json()["status"], ready.get_json()["dependencies"]) == ("ready", {"feedbackDatabase": "up"})
    app.extensions["cds"].store._db.close()  # the connection breaks under the service
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["dependencies"] == {"feedbackDatabase": "down"}
    assert client.get("/healthz").status_code == 200  # liveness: the process still answers
    assert client.get("/readyz").status_code == 200  # the store reconnected on the next probe


def test_metrics_count_calls_by_service_and_status(client):
    client.get("/cds-services")
    client.post("/cds-services/brain-metastases", json=hook_request())
    client.post("/cds-services/brain-metastases", json={"hook": "patient-view"})
    client.post("/cds-services/who-knows", json=hook_request())
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'cds_hook_calls_total{endpoint="discovery",hook="-",service="-",status="200"} 1.0' in text
    assert 'cds_hook_calls_total{endpoint="invoke",hook="patient-view",service="brain-metastases",status="200"} 1.0' \
        in text
    assert 'cds_hook_calls_total{endpoint="invoke",hook="patient-view",service="brain-metastases",status="400"} 1.0' \
        in text
    assert 'cds_hook_calls_total{endpoint="invoke",hook="-",service="unknown",status="404"} 1.0' in text
    assert 'cds_hook_duration_seconds_count{endpoint="invoke",hook="patient-view",service="brain-metastases"} 2.0' \
        in text
    assert 'cds_http_responses_total{endpoint="invoke",status_class="4xx"} 2.0' in text
    assert 'cds_http_responses_total{endpoint="invoke",status_class="2xx"} 1.0' in text
    assert 'cds_cards_issued_total{rule="DATA-MISSING",service="brain-metastases"} 1.0' in text


def test_each_app_has_its_own_metrics_registry(make_app):
    first, second = make_app(), make_app()
    first.test_client().get("/cds-services")
    text = second.test_client().get("/metrics").get_data(as_text=True)
    assert 'endpoint="discovery"' not in text


def test_access_log_has_no_patient_data(client, caplog):
    caplog.set_level("INFO", logger="cds_service.access")
    body = hook_request()
    body["context"]["patientId"] = "secret-patient-77"
    client.post("/cds-services/brain-metastases", json=body)
    records = [r for r in caplog.records if r.name == "cds_service.access"]
    assert records and records[-1].hook_instance == body["hookInstance"]
    assert records[-1].service == "brain-metastases" and records[-1].status == 200
    assert "secret-patient-77" not in caplog.text
