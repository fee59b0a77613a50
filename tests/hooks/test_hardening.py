"""Hostile and odd input (issue #16, items 1 and 8): size and depth limits, strict types, bounded
feedback, one outcome per card, cards checked against their service, no 500 on odd strings; security
headers; a feedback store that is down never stops advice."""

from __future__ import annotations

import io
import json
import logging

import pytest
import responses
from hook_support import FHIR, hook_request

from cds_service.hooks.validation import MAX_COMMENT_CHARS, MAX_FEEDBACK_ITEMS

URL = "/cds-services/brain-metastases"
FEEDBACK = URL + "/feedback"


def post_raw(client, data: bytes | str, url=URL, **kw):
    return client.post(url, data=data, content_type="application/json", **kw)


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def error_of(response) -> tuple[int, str | None]:
    body = response.get_json()
    return response.status_code, body.get("field")


# -- size ---------------------------------------------------------------------------------------

def test_body_above_the_default_10_mb_is_413(client):
    body = hook_request()
    body["padding"] = "x" * (10 * 1024 * 1024)
    response = post_raw(client, json.dumps(body))
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload-too-large"


def test_the_limit_is_configurable_and_holds_without_content_length(make_app):
    client = make_app(max_body_bytes=4096).test_client()
    body = json.dumps({**hook_request(), "padding": "x" * 5000}).encode()
    assert post_raw(client, body).status_code == 413
    # Chunked upload: no Content-Length, the limit is enforced while reading.
    response = client.post(URL, input_stream=io.BytesIO(body), content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})  # as gunicorn sets it
    assert response.status_code == 413
    assert post_raw(client, json.dumps(hook_request())).status_code == 200


# -- depth --------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [1_100, 5_000, 100_000])
def test_deeply_nested_json_is_400_not_500(client, levels):
    response = post_raw(client, nested(levels))
    assert response.status_code == 400
    assert response.get_json()["message"] == "The JSON body is nested too deeply"


def test_deep_json_that_only_the_standard_parser_reads_is_400(client):
    # NaN sends the body to the standard-library parser (orjson refuses it): that one recurses.
    response = post_raw(client, '{"x": NaN, "y": ' + nested(50_000) + "}")
    assert response.status_code == 400


def test_deep_nesting_inside_context_is_400(client):
    body = hook_request("order-sign")
    deep: dict = {}
    node = deep
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    body["context"]["draftOrders"]["entry"][0]["resource"]["extension"] = [deep]
    response = post_raw(client, json.dumps(body), url="/cds-services/neuro-oncology-order-sign")
    assert error_of(response) == (400, "context")


@pytest.mark.real_engine
def test_deep_nesting_inside_a_prefetched_resource_never_gives_500(make_app, real_engine):
    client = make_app(real_engine).test_client()
    body = hook_request()
    body["prefetch"]["observations"]["entry"][0]["resource"]["valueQuantity"] = "DEEP"
    body["prefetch"]["patient"]["extension"] = "DEEP"
    body["prefetch"]["conditions"]["entry"][0]["resource"]["code"] = "DEEP"
    text = json.dumps(body).replace('"DEEP"', "[" * 1000 + "{}" + "]" * 1000)  # within the parser's limit
    response = post_raw(client, text)
    assert response.status_code in (200, 412)


# -- strict types, unknown fields ----------------------------------------------------------------

@pytest.mark.parametrize("mutate, field", [
    (lambda b: b.update(hookInstance="has spaces and Jansen"), "hookInstance"),
    (lambda b: b.update(hookInstance="x" * 101), "hookInstance"),
    (lambda b: b.update(hookInstance=5), "hookInstance"),
    (lambda b: b["context"].update(patientId=["p1"]), "context.patientId"),
    (lambda b: b["context"].update(userId={"reference": "Practitioner/1"}), "context.userId"),
    (lambda b: b["context"].update(encounterId=7), "context.encounterId"),
    (lambda b: b.update(fhirServer="http://["), "fhirServer"),
    (lambda b: b.update(fhirServer="file:///etc/passwd"), "fhirServer"),
    (lambda b: b.update(fhirServer=["http://127.0.0.1"]), "fhirServer"),
    (lambda b: b.update(prefetch=[1]), "prefetch"),
    (lambda b: b.update(context="p1"), "context"),
])
def test_wrongly_typed_fields_are_400_naming_the_field(client, mutate, field):
    body = hook_request()
    mutate(body)
    assert error_of(post_raw(client, json.dumps(body))) == (400, field)


def test_unknown_fields_are_ignored_everywhere(client):
    body = hook_request()
    body["futureField"] = {"a": [1, 2]}
    body["context"]["futureContext"] = "x"
    body["extension"] = {"org.example": True}
    assert post_raw(client, json.dumps(body)).status_code == 200


# -- feedback bounds and odd strings ---------------------------------------------------------------

def item(card="card-1", outcome="overridden", ts="2026-11-24T09:05:00Z", **extra):
    return {"card": card, "outcome": outcome, "outcomeTimestamp": ts, **extra}


def send(client, *items, url=FEEDBACK):
    return client.post(url, data=json.dumps({"feedback": list(items)}), content_type="application/json")


@pytest.mark.parametrize("entry, field", [
    (item(ts="0001-01-01T00:00:00+14:00"), "feedback[0].outcomeTimestamp"),
    (item(ts="9999-12-31T23:59:59-14:00"), "feedback[0].outcomeTimestamp"),
    (item(card="c" * 129), "feedback[0].card"),
    (item(card="card\x00"), "feedback[0].card"),
    (item(overrideReason={"userComment": "y" * (MAX_COMMENT_CHARS + 1)}), "feedback[0].overrideReason.userComment"),
    (item(overrideReason={"userComment": "nul \x00 byte"}), "feedback[0].overrideReason.userComment"),
    (item(overrideReason={"reason": {"code": "c" * 1000}}), "feedback[0].overrideReason.reason.code"),
    (item(overrideReason={"reason": {"code": "x", "display": "d" * 5000}}),
     "feedback[0].overrideReason.reason.display"),
    (item(outcome="accepted", acceptedSuggestions=[{"id": f"s{i}"} for i in range(51)]),
     "feedback[0].acceptedSuggestions"),
])
def test_feedback_fields_are_bounded_and_storable(client, app, entry, field):
    assert error_of(send(client, entry)) == (400, field)
    assert app.extensions["cds"].store.feedback_rows() == []


def test_a_lone_surrogate_in_feedback_is_400(client, app):
    raw = '{"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-24T09:05:00Z",' \
          ' "overrideReason": {"userComment": "bad \\ud800 text"}}]}'
    response = post_raw(client, raw, url=FEEDBACK)
    assert error_of(response) == (400, "feedback[0].overrideReason.userComment")
    assert app.extensions["cds"].store.feedback_rows() == []


def test_too_many_items_in_one_post_is_400(client, app):
    response = send(client, *[item(card=f"c{i}") for i in range(MAX_FEEDBACK_ITEMS + 1)])
    assert error_of(response) == (400, "feedback")
    assert send(client, *[item(card=f"c{i}") for i in range(MAX_FEEDBACK_ITEMS)]).get_json() == {
        "stored": MAX_FEEDBACK_ITEMS, "duplicates": 0}


def test_one_card_cannot_be_overridden_again_by_varying_the_timestamp(client, app):
    first = send(client, item(ts="2026-11-24T09:00:00Z"))
    assert first.get_json() == {"stored": 1, "duplicates": 0}
    again = send(client, *[item(ts=f"2026-11-24T09:{m:02d}:{s:02d}Z") for m in range(1, 6) for s in range(20)])
    assert again.get_json() == {"stored": 0, "duplicates": 100}
    assert len(app.extensions["cds"].store.feedback_rows()) == 1


def test_feedback_for_another_services_card_is_refused(client, app):
    card = client.post("/cds-services/spinal-metastases", json=hook_request()).get_json()["cards"][0]
    wrong = send(client, item(card=card["uuid"]))
    assert error_of(wrong) == (400, "feedback[0].card")
    right = send(client, item(card=card["uuid"]), url="/cds-services/spinal-metastases/feedback")
    assert right.get_json() == {"stored": 1, "duplicates": 0}
    assert [r["service_id"] for r in app.extensions["cds"].store.feedback_rows()] == ["spinal-metastases"]


def test_accepted_suggestions_must_be_the_cards_own(client):
    card = client.post(URL, json=hook_request()).get_json()["cards"][0]
    response = send(client, item(card=card["uuid"], outcome="accepted", acceptedSuggestions=[{"id": "not-its-own"}]))
    assert error_of(response) == (400, "feedback[0].acceptedSuggestions")


# -- security headers ----------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("post", URL), ("post", FEEDBACK), ("get", "/cds-services"),
                                          ("get", "/metrics"), ("get", "/nope"), ("get", "/readyz")])
def test_security_headers_on_every_answer(client, method, path):
    response = getattr(client, method)(path, json=hook_request())
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    assert client.get("/healthz", base_url="https://localhost").headers["Strict-Transport-Security"]


# -- the feedback store may be down: advice goes on ----------------------------------------------

def test_feedback_store_down_at_start_does_not_stop_advice(make_app, tmp_path, caplog):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the database directory should be")
    app = make_app(database=str(blocker / "feedback.sqlite3"))  # does not raise
    client = app.test_client()
    assert client.post(URL, json=hook_request()).status_code == 200  # hook calls keep answering
    down = send(client, item())
    assert down.status_code == 503
    assert down.headers["Retry-After"].isdigit()
    assert down.get_json()["error"] == "service-unavailable"
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert 'cds_feedback_unavailable_total 1.0' in client.get("/metrics").get_data(as_text=True)

    blocker.unlink()  # the database comes back
    app.extensions["cds"].store._last_attempt = float("-inf")  # skip the reconnect interval
    assert client.get("/readyz").status_code == 200
    assert send(client, item()).get_json() == {"stored": 1, "duplicates": 0}


def test_feedback_store_failing_during_a_call_is_503_and_stores_nothing(client, app):
    store = app.extensions["cds"].store

    def broken(statement, rows):
        raise OSError("disk I/O error")

    store._db.insert_all = broken
    response = send(client, item(card="a"), item(card="b"))
    assert response.status_code == 503
    assert client.post(URL, json=hook_request()).status_code == 200
    # the broken connection was dropped; the next post reconnects and stores
    assert send(client, item(card="a")).get_json() == {"stored": 1, "duplicates": 0}
    assert [r["card_uuid"] for r in store.feedback_rows()] == ["a"]


# -- observability ---------------------------------------------------------------------------------

def test_one_log_line_per_call_with_service_hook_rules_status_and_duration(client, caplog):
    caplog.set_level(logging.INFO, logger="cds_service.access")
    body = hook_request()
    client.post(URL, json=body)
    record = [r for r in caplog.records if r.name == "cds_service.access"][-1]
    assert (record.service, record.hook, record.status) == ("brain-metastases", "patient-view", 200)
    assert record.hook_instance == body["hookInstance"]
    assert record.rules == ["DATA-MISSING"]
    assert record.duration_ms >= 0


@responses.activate
def test_fhir_fetches_are_timed_and_failures_counted(client):
    body = hook_request(fhirServer=FHIR)
    del body["prefetch"]["observations"]
    del body["prefetch"]["procedures"]
    responses.get(f"{FHIR}/Observation", json={"resourceType": "Bundle", "type": "searchset", "entry": []})
    responses.get(f"{FHIR}/Procedure", status=503)
    assert client.post(URL, json=body).status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert 'cds_fhir_fetch_duration_seconds_count{resource="Observation"} 1.0' in text
    assert 'cds_fhir_fetch_duration_seconds_count{resource="Procedure"} 1.0' in text
    assert 'cds_fhir_fetch_errors_total{kind="http-5xx",resource="Procedure"} 1.0' in text
    assert "p1" not in "\n".join(line for line in text.splitlines() if "fhir" in line)


def test_demo_fhir_in_production_logs_a_warning(make_app, caplog):
    caplog.set_level(logging.WARNING, logger="cds_service.app")
    make_app(production=True, allowed_fhir_servers=(FHIR,), demo_fhir=True)
    assert any("CDS_DEMO_FHIR is on in production" in r.getMessage() for r in caplog.records)


def test_configured_logging_holds_http_libraries_at_warning(monkeypatch):
    from cds_service.hooks import logs

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # configure_logging adds its handler only once
    saved = {name: logging.getLogger(name).level for name in logs.THIRD_PARTY_LOGGERS}
    saved_root = root.level
    try:
        logs.configure_logging("DEBUG")
        assert root.level == logging.DEBUG
        assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("psycopg").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
