"""The cds-service command line: evaluate, feedback-report, rules, serve, and the command set."""

from __future__ import annotations

import json
import os
import sys
import types
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cds_service import cli as cli_module
from cds_service.cards.actions import load_order_templates
from cds_service.cards.templates import load_templates
from cds_service.engine import Engine
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Fact, FactStatus, Facts, Provenance
from cds_service.feedback_store import FeedbackItem, FeedbackStore, IssuedCard
from cds_service.pathways.common import data_missing
from cds_service.services import SERVICES, Service

KPS_DATE = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


class FakeExtractor:
    def __init__(self):
        self.now = None

    def extract(self, resources, *, now, unavailable_sources=frozenset()):
        self.now = now
        return Facts(values={
            "kps": Fact.of("kps", 80, Provenance("Observation", "o1", date=KPS_DATE)),
            "ecog": Fact(name="ecog", status=FactStatus.STALE, stale_value=1,
                         provenance=(Provenance("Observation", "o2", date=KPS_DATE),)),
            "brain_metastases": Fact.missing("brain_metastases"),
        }, unavailable_sources=frozenset(unavailable_sources), now=now)


class FakeClassifier:
    def classify(self, draft_orders, selections, *, language="nl"):
        return ()


@pytest.fixture
def engine(monkeypatch):
    engine = Engine(
        extractor=FakeExtractor(), classifier=FakeClassifier(),
        templates=load_templates(), catalogue=load_fact_catalogue(),
        order_templates=load_order_templates(), tz=ZoneInfo("Europe/Amsterdam"),
        pathways={s.id: (lambda f, c: [data_missing(["brain_metastases"], "A0: diagnosis needed")],)
                  for s in SERVICES},
    )
    monkeypatch.setattr(cli_module, "build_engine", lambda config: engine)
    return engine


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CDS_DATABASE", str(tmp_path / "feedback.sqlite3"))
    return tmp_path


def request_file(tmp_path, **changes):
    body = {
        "hook": "patient-view",
        "hookInstance": "d1b5c1e4-0000-4000-8000-000000000001",
        "context": {"userId": "Practitioner/u1", "patientId": "p1"},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p1"},
            "conditions": {"resourceType": "Bundle", "entry": []},
            "observations": {"resourceType": "Bundle", "entry": []},
        },
    }
    body.update(changes)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def run(*args):
    result = CliRunner().invoke(cli_module.cli, [str(a) for a in args])
    return result


# -- evaluate ---------------------------------------------------------------------------------

def test_evaluate_prints_facts_then_cards(env, engine):
    result = run("evaluate", request_file(env), "--service", "brain-metastases", "--now", "2026-11-24T09:00:00Z")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "== brain-metastases (patient-view) at 2026-11-24T09:00:00+00:00" in out
    lines = out.splitlines()
    assert lines[3].split() == ["fact", "value", "status", "date", "source"]
    assert "\x1b[" not in out  # not a terminal: no colours
    assert any(line.split()[:3] == ["kps", "80", "known"] and "Observation/o1" in line for line in lines)
    assert any(line.split()[:3] == ["ecog", "1", "stale"] for line in lines)
    assert any(line.split()[:3] == ["brain_metastases", "—", "unknown"] for line in lines)
    assert out.index("Facts (3)") < out.index("Cards (1)")
    assert " INFO  Leg vast voor het richtlijnadvies: " in out
    assert "[DATA-MISSING]" in out and "Bron: " in out  # the card's labels are in the card's language (nl)
    assert "**" not in out  # the detail's Markdown is rendered, not printed raw
    assert engine.extractor.now == datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def test_evaluate_json_and_language(env, engine):
    result = run("evaluate", request_file(env), "--service", "spinal-metastases", "--language", "en", "--json",
                 "--now", "2026-11-24T10:00:00+01:00")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["service"] == "spinal-metastases"
    assert data["now"] == "2026-11-24T10:00:00+01:00"
    assert data["facts"][1] == {"name": "ecog", "value": 1, "status": "stale", "date": "2026-11-20T10:00:00+00:00",
                                "source": "Observation/o2"}
    assert data["facts"][0]["reason"] == "not recorded"
    assert data["response"]["cards"][0]["summary"].startswith("Record for the guideline advice: ")
    # only the prefetch keys the file had: the optional ones are reported unavailable
    assert "procedures" in data["unavailable"]


def test_evaluate_runs_every_service_of_the_hook_by_default(env, engine):
    result = run("evaluate", request_file(env), "--json")
    assert result.exit_code == 0, result.output
    assert [d["service"] for d in json.loads(result.output)] == [
        s.id for s in SERVICES if s.hook == "patient-view"]


def test_evaluate_uses_cds_fixed_now(env, engine, monkeypatch):
    monkeypatch.setenv("CDS_FIXED_NOW", "2026-01-02T03:04:05Z")
    assert run("evaluate", request_file(env), "--service", "brain-metastases").exit_code == 0
    assert engine.extractor.now == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_evaluate_reports_missing_required_data(env, engine):
    result = run("evaluate", request_file(env, prefetch={}), "--service", "brain-metastases")
    assert result.exit_code == 2
    assert "HTTP 412" in result.stderr
    assert '"key": "patient"' in result.stderr


def test_evaluate_reports_bad_requests(env, engine):
    result = run("evaluate", request_file(env, hook="order-sign"), "--service", "brain-metastases")
    assert result.exit_code == 2
    assert "HTTP 400" in result.stderr and "does not match service" in result.stderr


def test_evaluate_refuses_non_json(env, engine):
    path = env / "x.json"
    path.write_text("{nope")
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert "not a JSON file" in result.output


# -- feedback-report ---------------------------------------------------------------------------

def _fill(database):
    store = FeedbackStore.open(database)
    store.record_issued([IssuedCard("c1", "brain-metastases", "BM-MDO-NEURO", "patient-view", "t"),
                         IssuedCard("c2", "brain-metastases", "BM-MDO-NEURO", "patient-view", "t")])
    store.add_feedback("brain-metastases", [
        FeedbackItem("c1", "accepted", "2026-11-24T09:00:00.000Z", ("s1",)),
        FeedbackItem("c2", "overridden", "2026-11-24T09:00:00.000Z", override_code="emergency",
                     override_display="Spoedsituatie"),
    ])
    store.close()


def test_feedback_report_table_and_json(env):
    _fill(str(env / "feedback.sqlite3"))
    result = run("feedback-report")
    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[2]
    assert row.split()[:5] == ["BM-MDO-NEURO", "2", "1", "1", "50%"]
    assert "Spoedsituatie ×1" in row
    data = json.loads(run("feedback-report", "--json").output)
    assert data == {"BM-MDO-NEURO": {"shown": 2, "accepted": 1, "overridden": 1, "override_reasons": [
        {"code": "emergency", "display": "Spoedsituatie", "count": 1}]}}


def test_feedback_report_strips_control_characters_sent_by_an_ehr(env):
    database = str(env / "feedback.sqlite3")
    store = FeedbackStore.open(database)
    store.add_feedback("brain-metastases", [
        FeedbackItem("c9", "overridden", "2026-11-24T09:00:00.000Z", override_code="x\x1b[2J",
                     override_display="Emergency\x1b]0;pwned\x07\nnext line\x9b31m")])
    store.close()
    result = run("feedback-report")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\x9b" not in result.output
    assert "Emergency next line ×1" in result.output


def test_feedback_report_with_the_database_down_is_one_line(env):
    result = run("feedback-report", "--database", "postgresql://cds:secret@127.0.0.1:9/feedback")
    assert result.exit_code == 1
    assert result.output.startswith("Error: feedback database postgresql://cds:***@127.0.0.1:9/feedback cannot be "
                                    "opened: ")
    assert len(result.output.strip().splitlines()) == 1
    assert "secret" not in result.output and "Traceback" not in result.output


def test_a_postgresql_url_without_the_driver_is_one_line(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the scaleout extra were not installed
    for command in (("feedback-report", "--database", "postgresql://cds@db.example/feedback"), ("serve",)):
        monkeypatch.setenv("CDS_DATABASE", "postgresql://cds@db.example/feedback")
        result = run(*command)
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == (
            "Error: CDS_DATABASE is a PostgreSQL URL but psycopg is not installed: "
            "pip install 'neuro-onc-cds[scaleout]'")


def test_feedback_report_on_an_empty_database(env):
    result = run("feedback-report", "--database", env / "empty.sqlite3")
    assert result.exit_code == 0
    assert "No cards or feedback recorded yet" in result.output


# -- rules ---------------------------------------------------------------------------------------

@pytest.fixture
def fake_pathways(monkeypatch):
    module = types.ModuleType("cds_test_fake_pathway")
    module.RULES = ("DATA-MISSING", "TEST-ONLY-RULE")
    monkeypatch.setitem(sys.modules, "cds_test_fake_pathway", module)
    services = (
        Service("svc-a", "patient-view", "A", "a", ("patient",), ("cds_test_fake_pathway:evaluate",)),
        Service("svc-b", "order-sign", "B", "b", ("patient",), ("cds_test_fake_pathway:evaluate",
                                                               "cds_test_missing_module:evaluate")),
    )
    monkeypatch.setattr(cli_module, "SERVICES", services)
    return services


def test_rules_json_lists_rules_services_and_templates(fake_pathways):
    result = run("rules", "--json")
    assert result.exit_code == 1  # a pathway module could not be imported
    assert "cds_test_missing_module" in result.stderr
    data = {r["rule"]: r for r in json.loads(result.stdout)}
    assert data["TEST-ONLY-RULE"] == {"rule": "TEST-ONLY-RULE", "indicator": None, "area": None,
                                      "services": ["svc-a", "svc-b"], "source": None, "title": None}
    dm = data["DATA-MISSING"]
    assert (dm["indicator"], dm["area"], dm["services"]) == ("info", "common_rules", ["svc-a", "svc-b"])
    assert dm["source"] == ("FMS guidelines Brain metastases and Spinal metastases; LWNO document on the "
                            "neuro-oncology MDO (flowcharts)")


def test_rules_markdown(fake_pathways):
    lines = run("rules", "--markdown").stdout.splitlines()
    assert lines[:2] == ["| Rule | Card | Indicator | Services | Source |", "|---|---|---|---|---|"]
    assert lines[2].startswith("| `DATA-MISSING` | Data needed for guideline advice | info | `svc-a`, `svc-b` |")


def test_rules_of_the_real_pathways_all_have_templates():
    """Runs against the real pathway modules named in services.SERVICES."""
    infos, problems = cli_module.rule_catalogue()
    assert problems == []
    assert [i.rule_id for i in infos if i.indicator is None] == []


# -- serve and the command set ---------------------------------------------------------------------

class _StubState:
    closed = False

    def close(self):
        self.closed = True


@pytest.mark.parametrize("args, env_value, demo", [((), None, True), (("--no-demo-fhir",), None, False),
                                                   ((), "false", False)])
def test_serve_defaults(env, monkeypatch, args, env_value, demo):
    import cds_service.app
    import werkzeug.serving

    seen = {}
    state = _StubState()

    def fake_create_app(config):
        seen["config"] = config
        return types.SimpleNamespace(extensions={"cds": state})

    monkeypatch.setattr(cds_service.app, "create_app", fake_create_app)
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: seen.update(host=host, port=port, kw=kw))
    if env_value is not None:
        monkeypatch.setenv("CDS_DEMO_FHIR", env_value)
    result = run("serve", "--port", "8099", *args)
    assert result.exit_code == 0, result.output
    assert (seen["host"], seen["port"], seen["kw"]["threaded"]) == ("127.0.0.1", 8099, True)
    assert seen["config"].demo_fhir is demo
    assert seen["config"].jwt_required is False
    assert state.closed


def test_serve_reports_config_errors(env, monkeypatch):
    monkeypatch.setenv("CDS_LANGUAGE", "fr")
    result = run("serve")
    assert result.exit_code == 1
    assert "CDS_LANGUAGE must be one of" in result.output


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_serve_refuses_a_port_out_of_range(env, port):
    result = run("serve", "--port", port)
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output and "1<=x<=65535" in result.output


def test_serve_reports_a_port_in_use_in_one_line(env, monkeypatch):
    import socket

    import cds_service.app

    state = _StubState()
    monkeypatch.setattr(cds_service.app, "create_app", lambda config: types.SimpleNamespace(extensions={"cds": state}))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", port)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"Port {port} is in use" in result.output.strip().splitlines()[-1]
    assert state.closed


def test_main_registers_every_command():
    group = cli_module.build_cli()
    assert set(group.commands) >= {"serve", "evaluate", "feedback-report", "rules", "sandbox", "load-fixtures",
                                   "token"}


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert "0.1.0" in result.output
