"""The one error mapping: CdsError subclasses, werkzeug HTTP errors, unexpected exceptions."""

from __future__ import annotations

import logging

import pytest
from hook_support import hook_request, make_engine

from cds_service import errors
from cds_service.hooks.errors import INTERNAL_MESSAGE
from cds_service.pathways.model import Finding


def broken_pathway(facts, ctx):
    raise ZeroDivisionError("secret detail p1")


def test_unexpected_error_is_500_json_logged_and_counted(make_app, caplog):
    client = make_app(engine_=make_engine(broken_pathway)).test_client()
    caplog.set_level(logging.ERROR, logger="cds_service.hooks.errors")
    response = client.post("/cds-services/brain-metastases", json=hook_request())
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal-error", "message": INTERNAL_MESSAGE}
    assert b"Traceback" not in response.data and b"secret detail" not in response.data
    assert b"cards" not in response.data  # never an empty answer that looks like "no advice"
    record = next(r for r in caplog.records if r.name == "cds_service.hooks.errors")
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError
    assert "Traceback" in caplog.text
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'cds_errors_total{kind="ZeroDivisionError"} 1.0' in metrics
    assert 'cds_hook_calls_total{endpoint="invoke",hook="patient-view",service="brain-metastases",status="500"} 1.0' \
        in metrics
    assert 'cds_http_responses_total{endpoint="invoke",status_class="5xx"} 1.0' in metrics


def test_a_card_breaking_the_spec_is_500_not_sent(make_app):
    def invalid_indicator(facts, ctx):  # check_response refuses the card: a bug, never the client's fault
        return [Finding(rule_id="DATA-MISSING", indicator="hard-stop")]

    client = make_app(engine_=make_engine(invalid_indicator)).test_client()
    response = client.post("/cds-services/brain-metastases", json=hook_request())
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal-error"


def test_unknown_rule_template_is_500(make_app):
    client = make_app(engine_=make_engine(lambda f, c: [Finding(rule_id="NO-SUCH-RULE")])).test_client()
    assert client.post("/cds-services/brain-metastases", json=hook_request()).status_code == 500


@pytest.mark.parametrize(
    "exc, status, code",
    [
        (errors.BadRequest("bad"), 400, "bad-request"),
        (errors.FhirServerNotAllowed("no"), 400, "fhir-server-not-allowed"),
        (errors.Unauthorized("Unauthorized"), 401, "unauthorized"),
        (errors.NotFound("gone"), 404, "not-found"),
        (errors.MethodNotAllowed("no"), 405, "method-not-allowed"),
        (errors.UnsupportedMediaType("xml"), 415, "unsupported-media-type"),
        (errors.PreconditionFailed("missing", missing=[{"key": "k"}]), 412, "precondition-failed"),
        (errors.FhirFetchError("HTTP 500"), 502, "fhir-fetch-failed"),
        (errors.CdsError("x"), 500, "internal-error"),
    ],
)
def test_each_cds_error_maps_to_its_status(app, exc, status, code):
    def raise_it():
        raise exc

    app.add_url_rule("/boom", "boom", raise_it)
    response = app.test_client().get("/boom")
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json() == exc.body()
    assert response.get_json()["error"] == code


def test_unknown_path_is_404_json(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not-found", "message": "No such endpoint: GET /nothing-here"}


def test_405_keeps_the_allow_header(client):
    response = client.delete("/cds-services")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "OPTIONS"}
    assert response.get_json()["error"] == "method-not-allowed"


def test_body_too_large_is_413_json(app):
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = app.test_client().post("/cds-services/brain-metastases", json=hook_request())
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload-too-large"


def test_json_log_lines_carry_the_structured_fields():
    import json as _json

    from cds_service.hooks.logs import JsonFormatter

    try:
        raise ValueError("boom secret-patient-77")
    except ValueError:
        record = logging.getLogger("cds_service.access").makeRecord(
            "cds_service.access", logging.ERROR, __file__, 1, "invoke %s %d", ("brain-metastases", 500),
            exc_info=__import__("sys").exc_info(), extra={"hook_instance": "h-1", "duration_ms": 12.5})
    line = _json.loads(JsonFormatter().format(record))
    assert line["msg"] == "invoke brain-metastases 500"
    assert (line["level"], line["logger"]) == ("ERROR", "cds_service.access")
    assert (line["hook_instance"], line["duration_ms"]) == ("h-1", 12.5)
    # The exception's type and where it happened, never its message (it may quote record values).
    assert line["exc_type"] == "ValueError"
    assert line["exc_where"] and line["exc_where"][-1].endswith("in test_json_log_lines_carry_the_structured_fields")
    assert "test_errors.py:" in line["exc_where"][-1]
    assert "secret-patient-77" not in JsonFormatter().format(record) and "exc" not in line


@pytest.mark.parametrize("path, logged", [
    ("/cds-services/brain-metastases", "/cds-services/brain-metastases"),
    ("/demo/fhir/Condition?patient=secret-p1&_count=200", "/demo/fhir/Condition"),
    ("/demo/fhir/Patient/secret-p1", "/demo/fhir/Patient"),
])
def test_dev_server_access_log_drops_patient_ids(path, logged):
    from cds_service.hooks.logs import RedactingRequestHandler

    handler = RedactingRequestHandler.__new__(RedactingRequestHandler)
    handler.path, handler.command = path, "GET"
    lines = []
    handler.log = lambda level, fmt, *args: lines.append(fmt % args)
    handler.log_request(200)
    assert lines == [f'"GET {logged}" 200']
