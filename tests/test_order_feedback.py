"""Feedback on the order-hook cards is stored and reported per rule id (issue 6, "Done when").

An order-sign call for a brain-metastasis patient without an MDO gives the
RT-DIRECT-REFERRAL-BLOCKED card; the EHR then reports once that the suggestion
was accepted (with the suggestion's uuid) and, for a second call, that the
card was overridden with reason ``mdo-other-hospital``. ``FeedbackStore.report()``
and ``cds-service feedback-report`` must count both under the rule id.

The engine here uses the real order classifier, pathways and card templates;
only the facts layer is a stand-in (a fixed set of facts), so the test does not
depend on the FHIR → facts mapping. ``test_with_the_real_engine`` runs the
same flow on the fixture patient once the whole engine loads.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("cds_service.app")

from click.testing import CliRunner  # noqa: E402

from cds_service.app import create_app  # noqa: E402
from cds_service.cards.actions import load_order_templates  # noqa: E402
from cds_service.cards.templates import load_templates  # noqa: E402
from cds_service.config import Config  # noqa: E402
from cds_service.engine import Engine  # noqa: E402
from cds_service.facts.catalogue import load_fact_catalogue  # noqa: E402
from cds_service.facts.model import Facts  # noqa: E402
from cds_service.fhir.orders import OrderClassifier  # noqa: E402
from cds_service.pathways import orders  # noqa: E402
from cds_service.services import SERVICES  # noqa: E402

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
SIGN = "neuro-oncology-order-sign"
RULE = "RT-DIRECT-REFERRAL-BLOCKED"
LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
OVERRIDE_SYSTEM = "https://neuro-onc-cds.example.org/fhir/CodeSystem/override-reasons"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class FixedFacts:
    """The facts layer's stand-in: a patient with brain metastases and no MDO recorded."""

    def extract(self, resources, *, now, unavailable_sources=frozenset()):
        return Facts.from_values(now=now, brain_metastases=True,
                                 brain_metastases_diagnosis_date=now - timedelta(days=60), mdo_discussed=False)


def order_engine() -> Engine:
    return Engine(
        extractor=FixedFacts(),
        classifier=OrderClassifier.load(),
        templates=load_templates(),
        catalogue=load_fact_catalogue(),
        order_templates=load_order_templates(),
        tz=ZoneInfo("Europe/Amsterdam"),
        pathways={s.id: (orders.evaluate,) for s in SERVICES},
    )


def searchset(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def sign_request(patient: str = "ord-fb") -> dict:
    srs = {"resourceType": "ServiceRequest", "id": "srs-1", "status": "draft", "intent": "order",
           "subject": {"reference": f"Patient/{patient}"}, "priority": "routine",
           "code": {"coding": [{"system": LOCAL, "code": "stereotactic-radiosurgery"}]}}
    prefetch = {key: searchset() for key in ("conditions", "observations", "procedures", "imagingStudies",
                                             "medicationRequests", "medicationStatements", "serviceRequests",
                                             "encounters")}
    prefetch["patient"] = {"resourceType": "Patient", "id": patient}
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-1", "patientId": patient,
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": srs}]}},
        "prefetch": prefetch,
    }


def feedback(card: str, outcome: str, **extra) -> dict:
    item = {"card": card, "outcome": outcome, "outcomeTimestamp": "2026-11-24T09:05:00Z", **extra}
    return {"feedback": [item]}


def run_flow(client, request_body: dict) -> None:
    first = client.post(f"/cds-services/{SIGN}", json=request_body)
    assert first.status_code == 200, first.get_data(as_text=True)
    card = next(c for c in first.get_json()["cards"] if c["source"]["topic"]["code"] == RULE)
    assert card["indicator"] == "critical"
    suggestion = card["suggestions"][0]["uuid"]
    accepted = client.post(f"/cds-services/{SIGN}/feedback",
                           json=feedback(card["uuid"], "accepted", acceptedSuggestions=[{"id": suggestion}]))
    assert accepted.status_code == 200, accepted.get_data(as_text=True)

    request_body = {**request_body, "hookInstance": str(uuid.uuid4())}
    second = client.post(f"/cds-services/{SIGN}", json=request_body)
    card2 = next(c for c in second.get_json()["cards"] if c["source"]["topic"]["code"] == RULE)
    reason = next(r for r in card2["overrideReasons"] if r["code"] == "mdo-other-hospital")
    overridden = client.post(f"/cds-services/{SIGN}/feedback", json=feedback(
        card2["uuid"], "overridden", overrideReason={"reason": reason, "userComment": "MDO in UMC gehouden"}))
    assert overridden.status_code == 200, overridden.get_data(as_text=True)


def assert_report(report: dict) -> None:
    entry = report[RULE]
    assert (entry["shown"], entry["accepted"], entry["overridden"]) == (2, 1, 1)
    assert [(r["code"], r["count"]) for r in entry["override_reasons"]] == [("mdo-other-hospital", 1)]
    assert entry["override_reasons"][0]["system"] == OVERRIDE_SYSTEM


@pytest.fixture
def app_with(tmp_path):
    apps = []

    def build(engine: Engine):
        app = create_app(Config(database=str(tmp_path / "feedback.sqlite3")), engine=engine, clock=lambda: NOW)
        app.testing = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["cds"].close()


def test_feedback_on_order_cards_is_reported_per_rule(app_with, tmp_path):
    app = app_with(order_engine())
    run_flow(app.test_client(), sign_request())
    store = app.extensions["cds"].store
    store.flush()
    assert_report(store.report())

    result = CliRunner().invoke(_cli(), ["feedback-report", "--json", "--database", str(tmp_path / "feedback.sqlite3")])
    assert result.exit_code == 0, result.output
    assert_report(json.loads(result.output))


def _cli():
    from cds_service.cli import cli

    return cli


def test_with_the_real_engine(app_with):
    """The same flow on the fixture patient ord-srs-no-mdo, facts read from its FHIR resources."""
    try:
        engine = Engine.load()
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("cds_service."):
            pytest.skip(f"{exc.name} does not exist yet")
        raise
    path = FIXTURES / "requests" / f"{SIGN}-ord-srs-no-mdo.json"
    app = app_with(engine)
    run_flow(app.test_client(), json.loads(path.read_text(encoding="utf-8")))
    store = app.extensions["cds"].store
    store.flush()
    assert_report(store.report())
