"""POST /cds-services/{id}/feedback: validation, durable storage across restarts, duplicates."""

from __future__ import annotations

import json

import pytest
from hook_support import hook_request

URL = "/cds-services/brain-metastases/feedback"


def accepted(card="card-1", ts="2026-11-24T09:05:00Z"):
    return {"card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": "sugg-1"}], "outcomeTimestamp": ts}


def overridden(card="card-1", ts="2026-11-24T09:06:00Z", reason=None, comment=None):
    entry = {"card": card, "outcome": "overridden", "outcomeTimestamp": ts}
    override = {}
    if reason is not None:
        override["reason"] = reason
    if comment is not None:
        override["userComment"] = comment
    if override:
        entry["overrideReason"] = override
    return entry


def send(client, *entries, url=URL):
    return client.post(url, data=json.dumps({"feedback": list(entries)}), content_type="application/json")


def test_feedback_is_stored_and_answered_200(client, app):
    response = send(client, accepted(), overridden("card-2", reason={
        "system": "https://neuro-onc-cds.example.org/fhir/CodeSystem/override-reasons", "code": "emergency",
        "display": "Spoedsituatie"}, comment="al besproken"))
    assert response.status_code == 200
    assert response.get_json() == {"stored": 2, "duplicates": 0}
    rows = app.extensions["cds"].store.feedback_rows()
    assert [(r["card_uuid"], r["outcome"], r["override_code"], r["user_comment"]) for r in rows] == [
        ("card-1", "accepted", None, None), ("card-2", "overridden", "emergency", "al besproken")]
    assert rows[0]["accepted_suggestions"] == '["sugg-1"]'
    assert rows[0]["outcome_timestamp"] == "2026-11-24T09:05:00.000Z"


def test_duplicates_are_tolerated_and_stored_once(client, app):
    assert send(client, accepted()).get_json() == {"stored": 1, "duplicates": 0}
    # The same moment written differently is still the same report.
    again = send(client, accepted(ts="2026-11-24T10:05:00+01:00"), accepted())
    assert again.status_code == 200
    assert again.get_json() == {"stored": 0, "duplicates": 2}
    assert len(app.extensions["cds"].store.feedback_rows()) == 1


def test_sandbox_override_reason_without_system_and_display(client, app):
    response = send(client, overridden(reason={"code": "patient-declines"}))
    assert response.status_code == 200
    assert app.extensions["cds"].store.feedback_rows()[0]["override_code"] == "patient-declines"


def test_feedback_survives_an_app_restart(make_app, tmp_path):
    first = make_app()
    client = first.test_client()
    card = client.post("/cds-services/brain-metastases", json=hook_request()).get_json()["cards"][0]
    assert send(client, overridden(card["uuid"], reason={"system": "s", "code": "emergency", "display": "E"}),
                ).status_code == 200
    first.extensions["cds"].close()

    second = make_app()  # a new app on the same SQLite file
    report = second.extensions["cds"].store.report()
    assert report["DATA-MISSING"]["shown"] == 1
    assert report["DATA-MISSING"]["overridden"] == 1
    assert report["DATA-MISSING"]["override_reasons"] == [{"code": "emergency", "display": "E", "system": "s",
                                                            "count": 1}]
    assert send(second.test_client(), overridden(card["uuid"], reason={"code": "emergency"})).get_json() == {
        "stored": 0, "duplicates": 1}


BAD = [
    ({}, "feedback", "feedback must be a non-empty list"),
    ({"feedback": []}, "feedback", "feedback must be a non-empty list"),
    ({"feedback": {"card": "x"}}, "feedback", "feedback must be a non-empty list"),
    ({"feedback": ["x"]}, "feedback[0]", "must be a JSON object"),
    ({"feedback": [{**accepted(), "card": ""}]}, "feedback[0].card", "card is required"),
    ({"feedback": [{k: v for k, v in accepted().items() if k != "card"}]}, "feedback[0].card", "card is required"),
    ({"feedback": [{**accepted(), "outcome": "ignored"}]}, "feedback[0].outcome", "outcome must be one of"),
    ({"feedback": [{k: v for k, v in accepted().items() if k != "acceptedSuggestions"}]},
     "feedback[0].acceptedSuggestions", "acceptedSuggestions must be a list"),
    ({"feedback": [{**accepted(), "acceptedSuggestions": [{"uuid": "x"}]}]},
     "feedback[0].acceptedSuggestions", "acceptedSuggestions must be a list"),
    ({"feedback": [{k: v for k, v in accepted().items() if k != "outcomeTimestamp"}]},
     "feedback[0].outcomeTimestamp", "outcomeTimestamp is required"),
    ({"feedback": [accepted(ts="gisteren")]}, "feedback[0].outcomeTimestamp", "not an RFC 3339 date-time"),
    ({"feedback": [accepted(ts="2026-11-24T09:05:00")]}, "feedback[0].outcomeTimestamp", "needs a time zone"),
    ({"feedback": [accepted(), overridden(reason={"display": "x"})]}, "feedback[1].overrideReason.reason",
     "must be a Coding with a code"),
    ({"feedback": [{**overridden(), "overrideReason": "busy"}]}, "feedback[0].overrideReason", "JSON object"),
    ({"feedback": [overridden(comment=5)]}, "feedback[0].overrideReason.userComment", "must be a string"),
]


@pytest.mark.parametrize("body, field, message", BAD, ids=[f"{b[1]}:{b[2]}" for b in BAD])
def test_invalid_feedback_is_400(client, app, body, field, message):
    response = client.post(URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    payload = response.get_json()
    assert (payload["error"], payload["field"]) == ("bad-request", field)
    assert message in payload["message"]
    assert app.extensions["cds"].store.feedback_rows() == []


def test_feedback_for_an_unknown_service_is_404(client):
    response = send(client, accepted(), url="/cds-services/nope/feedback")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not-found"


def test_feedback_must_be_json(client):
    response = client.post(URL, data="feedback=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_feedback_wrong_method_is_405(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response.get_json()["error"] == "method-not-allowed"


def test_feedback_is_counted_in_metrics(client):
    send(client, accepted(), overridden())
    text = client.get("/metrics").get_data(as_text=True)
    assert 'cds_feedback_items_total{outcome="accepted",service="brain-metastases"} 1.0' in text
    assert 'cds_feedback_items_total{outcome="overridden",service="brain-metastases"} 1.0' in text
