"""``cds-service sandbox`` and ``load-fixtures`` over real HTTP, against small fake servers.

The fake CDS service records every request it gets; its FHIR side is the
read-only demo blueprint over a few synthetic patients. The real service and
the Node FHIR server are exercised in tests/integration.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from click.testing import CliRunner
from flask import Flask, jsonify, request

from cds_service import demo_fhir
from cds_service.ehr import fixtures
from cds_service.ehr.fixtures import FIXTURE_NOW
from cds_service.ehr_cli import load_fixtures, sandbox

PATIENT_VIEW_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&_count=2",
}
SERVICES = [
    {"id": "svc-a", "hook": "patient-view", "title": "A", "description": "a", "prefetch": PATIENT_VIEW_PREFETCH},
    {"id": "svc-b", "hook": "patient-view", "title": "B", "description": "b"},
    {"id": "svc-order", "hook": "order-select", "title": "O", "description": "o",
     "prefetch": {"patient": "Patient/{{context.patientId}}"}},
]
CARD = {"uuid": "c1", "summary": "Discuss in the MDO", "indicator": "warning",
        "source": {"label": "Guideline", "topic": {"system": "x", "code": "BM-MDO"}}}


def _bundle(pid: str, n_obs: int) -> dict:
    resources = [{"resourceType": "Patient", "id": pid, "birthDate": "1960-05-01"}] + [
        {"resourceType": "Observation", "id": f"{pid}-obs{i}", "status": "final", "code": {"text": "KPS"},
         "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": f"2026-11-2{i}T09:00:00+00:00"}
        for i in range(n_obs)
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


BUNDLES = {"bm-01": _bundle("bm-01", 3), "sm-02": _bundle("sm-02", 1)}


@pytest.fixture
def fixture_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Synthetic bundled fixtures (two patients, their cases) in place of the real ones."""
    root = tmp_path / "fixtures"
    (root / "patients").mkdir(parents=True)
    (root / "cases").mkdir()
    for pid, bundle in BUNDLES.items():
        (root / "patients" / f"{pid}.json").write_text(json.dumps(bundle))
    (root / "cases" / "facts.yaml").write_text(
        "- id: fx-03\n  title: Facts only\n  facts_only: true\n  facts: {kps: 80}\n")
    (root / "cases" / "brain.yaml").write_text(
        "- id: bm-01\n  title: One brain metastasis\n  expect: {svc-a: [BM-MDO]}\n"
        "- id: bm-01-b\n  patient: bm-01\n  title: Same patient, second case\n  expect: {svc-b: []}\n"
        "- id: sm-02\n  title: Spinal case\n  expect: {svc-a: []}\n")
    monkeypatch.setattr(fixtures, "fixture_root", lambda: root)
    return root


@pytest.fixture
def cds(live, fixture_tree):
    """A fake CDS service (discovery, calls recorded) with the demo FHIR API at /demo/fhir."""
    calls: list[dict] = []
    app = Flask("fake-cds")
    app.extensions["cds"] = SimpleNamespace(clock=lambda: FIXTURE_NOW)
    app.register_blueprint(demo_fhir.blueprint, url_prefix="/demo/fhir")

    @app.get("/cds-services")
    def discovery():
        calls.append({"path": request.path, "headers": dict(request.headers)})
        return jsonify({"services": SERVICES})

    @app.post("/cds-services/<sid>")
    def call(sid: str):
        body = request.get_json()
        calls.append({"path": request.path, "headers": dict(request.headers), "body": body})
        if body["context"]["patientId"] == "sm-02":  # a patient whose required data the service cannot get
            return jsonify({"error": "precondition-failed", "message": "Required data could not be obtained: patient",
                            "missing": [{"key": "patient", "query": "Patient/{{context.patientId}}",
                                         "reason": "fetch failed: HTTP 404"}]}), 412
        return jsonify({"cards": [{**CARD, "summary": f"{CARD['summary']} ({sid})"}]})

    server = live(app)
    return SimpleNamespace(url=server.url, fhir=server.url + "/demo/fhir", calls=calls)


def _run(*args: str):
    return CliRunner().invoke(sandbox, list(args), catch_exceptions=False)


def _service_calls(cds) -> list[dict]:
    return [c for c in cds.calls if "body" in c]


def test_sandbox_calls_every_service_of_the_hook_with_prefetch(cds) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url)
    assert result.exit_code == 0, result.output
    calls = _service_calls(cds)
    assert [c["path"] for c in calls] == ["/cds-services/svc-a", "/cds-services/svc-b"]
    body = calls[0]["body"]
    assert uuid.UUID(body["hookInstance"]).version == 4
    assert body["hook"] == "patient-view"
    assert body["fhirServer"] == cds.fhir
    assert body["context"] == {"userId": "Practitioner/ehr-sandbox", "patientId": "bm-01"}
    assert body["prefetch"]["patient"]["id"] == "bm-01"
    observations = body["prefetch"]["observations"]  # three observations on pages of two: the EHR followed next
    assert [e["resource"]["id"] for e in observations["entry"]] == ["bm-01-obs0", "bm-01-obs1", "bm-01-obs2"]
    assert "prefetch" not in calls[1]["body"]  # svc-b has no prefetch templates
    assert calls[0]["body"]["hookInstance"] != calls[1]["body"]["hookInstance"]
    assert "Authorization" not in calls[0]["headers"]
    assert "svc-a (patient-view): 1 card" in result.output
    assert "WARNING" in result.output and "Discuss in the MDO (svc-a)" in result.output
    assert "[BM-MDO]" in result.output


def test_sandbox_without_prefetch_leaves_fetching_to_the_service(cds) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url, "--service", "svc-a",
                  "--no-prefetch")
    assert result.exit_code == 0, result.output
    [call] = _service_calls(cds)
    assert "prefetch" not in call["body"]
    assert call["body"]["fhirServer"] == cds.fhir


def test_sandbox_json_prints_the_raw_answer(cds) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url, "--service", "svc-a",
                  "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"cards": [{**CARD, "summary": "Discuss in the MDO (svc-a)"}]}
    both = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url, "--json")
    assert set(json.loads(both.output)) == {"svc-a", "svc-b"}


def test_sandbox_signs_every_call(cds, tmp_path: Path) -> None:
    key = tmp_path / "ehr-key.pem"
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url, "--service", "svc-a",
                  "--jwt", "--jwt-key", str(key), "--jwt-issuer", "https://ehr.test", "--language", "en")
    assert result.exit_code == 0, result.output
    jwks = json.loads((tmp_path / "ehr-key-jwks.json").read_text())
    assert f"file:{tmp_path / 'ehr-key-jwks.json'}" in result.output  # how to trust it, on stderr
    signing_key = jwt.PyJWK(jwks["keys"][0]).key
    for call in cds.calls:
        url = cds.url + call["path"]
        token = call["headers"]["Authorization"].removeprefix("Bearer ")
        assert jwt.get_unverified_header(token)["kid"] == jwks["keys"][0]["kid"]
        claims = jwt.decode(token, signing_key, algorithms=["ES384"], audience=url, issuer="https://ehr.test")
        assert set(claims) == {"iss", "aud", "exp", "iat", "jti"}
    assert _service_calls(cds)[0]["headers"]["Accept-Language"] == "en"


def test_sandbox_order_select_sends_draft_orders_and_selections(cds, tmp_path: Path) -> None:
    order = {"resourceType": "ServiceRequest", "id": "draft-rt", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/bm-01"}, "code": {"text": "Radiotherapy referral"}}
    other = {**order, "id": "draft-mri", "code": {"text": "MRI"}}
    (tmp_path / "rt.json").write_text(json.dumps(order))
    (tmp_path / "mri.json").write_text(json.dumps(other))
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url, "--hook", "order-select",
                  "--draft-order", str(tmp_path / "rt.json"), "--draft-order", str(tmp_path / "mri.json"),
                  "--select", "draft-rt")
    assert result.exit_code == 0, result.output
    [call] = _service_calls(cds)
    assert call["path"] == "/cds-services/svc-order"
    ctx = call["body"]["context"]
    assert [e["resource"]["id"] for e in ctx["draftOrders"]["entry"]] == ["draft-rt", "draft-mri"]
    assert ctx["selections"] == ["ServiceRequest/draft-rt"]


def test_sandbox_order_hook_needs_draft_orders(cds) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url, "--hook", "order-select")
    assert result.exit_code == 2
    assert "needs at least one draft order" in result.output


def test_sandbox_shows_a_412_and_fails(cds) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "sm-02", "--service-url", cds.url, "--service", "svc-a")
    assert result.exit_code == 1
    assert "HTTP 412" in result.output
    assert "missing (required): patient -> fetch failed: HTTP 404" in result.output


def test_sandbox_unknown_patient_is_one_line_and_fails(cds) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "nobody", "--service-url", cds.url)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: patient nobody does not exist on {cds.fhir}"
    assert _service_calls(cds) == []  # no chart to open: no hook is fired


@pytest.mark.parametrize("prefetch", ["--prefetch", "--no-prefetch"])
def test_sandbox_with_the_fhir_server_down_says_so_once(cds, prefetch: str) -> None:
    result = _run("--fhir-server", "http://127.0.0.1:9/fhir", "--patient", "bm-01", "--service-url", cds.url,
                  prefetch)
    assert result.exit_code == 0, result.output  # the fake service answers 200 whatever it gets
    first, *rest = result.output.splitlines()
    assert first == ("FHIR server http://127.0.0.1:9/fhir: cannot connect (connection refused) — nothing "
                     "prefetched; the services will say what they could not read")
    assert "urllib3" not in result.output and "HTTPConnectionPool" not in result.output
    assert not any("FHIR server" in line or "prefetch" in line for line in rest)
    assert all("prefetch" not in call["body"] for call in _service_calls(cds))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--service", "nope"), "unknown service nope"),
        (("--service", "svc-order", "--hook", "patient-view"), "svc-order serves order-select"),
    ],
)
def test_sandbox_refuses_a_wrong_service(cds, args: tuple[str, ...], message: str) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", cds.url, *args)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert _service_calls(cds) == []


def test_sandbox_reports_an_unreachable_service(cds) -> None:
    result = _run("--fhir-server", cds.fhir, "--patient", "bm-01", "--service-url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: discovery at http://127.0.0.1:9/cds-services: cannot connect (connection refused)"


# -- load-fixtures ---------------------------------------------------------------------------

@pytest.fixture
def fhir_sink(live):
    """A fake FHIR server that stores what it is sent; ``refuse_transactions`` makes it answer 405 to Bundles."""
    store: dict[str, dict] = {}
    state = SimpleNamespace(store=store, transactions=0, puts=0, refuse_transactions=False, bad_ids=set(),
                            message="Invalid date format")

    def invalid():
        return jsonify({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "structure", "details": {"text": state.message}}]}), 400
    app = Flask("fake-fhir")

    @app.post("/fhir")
    def transaction():
        if state.refuse_transactions:
            return jsonify({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-supported", "details": {"text": "no transactions"}}]}), 405
        bundle = request.get_json()
        if any(e["resource"]["id"] in state.bad_ids for e in bundle["entry"]):
            return invalid()
        state.transactions += 1
        assert len(bundle["entry"]) <= 50
        for entry in bundle["entry"]:
            store[entry["request"]["url"]] = entry["resource"]
        return jsonify({"resourceType": "Bundle", "type": "transaction-response",
                        "entry": [{"response": {"status": "200 OK"}} for _ in bundle["entry"]]})

    @app.put("/fhir/<rtype>/<rid>")
    def put(rtype: str, rid: str):
        if rid in state.bad_ids:
            return invalid()
        state.puts += 1
        store[f"{rtype}/{rid}"] = request.get_json()
        return jsonify(store[f"{rtype}/{rid}"])

    state.url = live(app).url + "/fhir"
    return state


def test_load_fixtures_loads_every_patient_and_prints_the_cases(fhir_sink, fixture_tree) -> None:
    result = CliRunner().invoke(load_fixtures, ["--fhir-server", fhir_sink.url, "--no-shift-dates"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["patient", "id", "resources", "case"]
    assert lines[1].split(None, 2) == ["bm-01", "4", "One brain metastasis"]
    assert lines[2].strip() == "Same patient, second case"
    assert lines[3].split(None, 2) == ["sm-02", "2", "Spinal case"]
    assert f"2 patients, 6 resources into {fhir_sink.url} (transactions; dates as written)." in result.output
    assert fhir_sink.store["Observation/bm-01-obs0"]["effectiveDateTime"] == "2026-11-20T09:00:00+00:00"
    again = CliRunner().invoke(load_fixtures, ["--fhir-server", fhir_sink.url, "--no-shift-dates"])
    assert again.exit_code == 0
    assert len(fhir_sink.store) == 6  # rerun: the same ids, nothing duplicated


def test_load_fixtures_shifts_dates_by_default(fhir_sink, fixture_tree) -> None:
    result = CliRunner().invoke(load_fixtures, ["--fhir-server", fhir_sink.url, "--patients", "sm-02"])
    assert result.exit_code == 0, result.output
    from datetime import datetime, timezone

    expected = fixtures.DateShift.to(datetime.now(timezone.utc))
    assert f"dates moved by {expected.days:+d} days" in result.output
    stored = fhir_sink.store["Observation/sm-02-obs0"]["effectiveDateTime"]
    assert stored == expected.shift_text("2026-11-20T09:00:00+00:00")
    assert list(fhir_sink.store) == ["Patient/sm-02", "Observation/sm-02-obs0"]


def test_load_fixtures_falls_back_to_puts(fhir_sink, fixture_tree) -> None:
    fhir_sink.refuse_transactions = True
    result = CliRunner().invoke(load_fixtures, ["--fhir-server", fhir_sink.url, "--no-shift-dates"])
    assert result.exit_code == 0, result.output
    assert "single PUTs (the server refused transactions)" in result.output
    assert (fhir_sink.transactions, fhir_sink.puts) == (0, 6)


def test_load_fixtures_unknown_patient(fhir_sink, fixture_tree) -> None:
    result = CliRunner().invoke(load_fixtures, ["--fhir-server", fhir_sink.url, "--patients", "bm-01,zz-9"])
    assert result.exit_code == 2
    assert "no fixture patient zz-9" in result.output
    assert fhir_sink.store == {}


def test_load_fixtures_unreachable_server(fixture_tree) -> None:
    result = CliRunner().invoke(load_fixtures, ["--fhir-server", "http://127.0.0.1:9/fhir"])
    assert result.exit_code == 1
    assert "Error: cannot reach the FHIR server http://127.0.0.1:9/fhir: cannot connect (connection refused)" in result.output
    assert "Traceback" not in result.output and "HTTPConnectionPool" not in result.output


def test_load_fixtures_refused_resources_fail_the_command(fhir_sink, fixture_tree) -> None:
    """Every bundled patient must load: a refused resource is an error, whatever the patient is for."""
    (fixture_tree / "patients" / "fx-03.json").write_text(json.dumps(_bundle("fx-03", 1)))
    fhir_sink.bad_ids.add("fx-03-obs0")
    result = CliRunner().invoke(load_fixtures, ["--fhir-server", fhir_sink.url, "--no-shift-dates"])
    assert result.exit_code == 1, result.output
    assert "fx-03-obs0: PUT" in result.output and "Invalid date format" in result.output
    assert "1 patient(s) were not loaded completely: fx-03" in result.output
    assert "(1 refused)" in result.output
    assert "Observation/fx-03-obs0" not in fhir_sink.store
    assert len(fhir_sink.store) == 7  # everything else of the three patients


def test_load_fixtures_strips_control_characters_from_server_messages(fhir_sink, fixture_tree) -> None:
    fhir_sink.bad_ids.add("bm-01-obs1")
    fhir_sink.message = "Invalid \x1b[2Jdate\x07 format"
    result = CliRunner().invoke(load_fixtures, ["--fhir-server", fhir_sink.url, "--no-shift-dates"])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "Invalid date format" in result.output


# -- token ------------------------------------------------------------------------------------

def _token(*args: str):
    from cds_service.ehr_cli import token

    return CliRunner().invoke(token, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def real_engine():
    from cds_service.engine import Engine

    return Engine.load()


@pytest.fixture
def secured_service(real_engine, tmp_path_factory):
    """The real service with JWT required, trusting one test issuer's JWKS file (filled in by the test)."""
    from cds_service.app import create_app
    from cds_service.config import Config

    tmp = tmp_path_factory.mktemp("token")
    jwks = tmp / "jwks.json"
    config = Config(jwt_required=True, trusted_issuers={"https://ehr.test": (f"file:{jwks}",)},
                    database=str(tmp / "feedback.sqlite3"))
    app = create_app(config, engine=real_engine)
    yield SimpleNamespace(client=app.test_client(), jwks=jwks)
    app.extensions["cds"].close()


def _trust(secured_service, jwks_file: Path) -> None:
    secured_service.jwks.write_text(jwks_file.read_text())


def test_token_is_accepted_by_the_service_once(secured_service, tmp_path: Path) -> None:
    key = tmp_path / "ehr-key.pem"
    result = _token("--jwt-issuer", "https://ehr.test", "--jwt-key", str(key), "--service-url", "http://localhost")
    assert result.exit_code == 0, result.output
    *notes, token = result.output.strip().splitlines()  # the token is the only line on stdout, last
    assert "aud=http://localhost/cds-services" in "\n".join(notes)
    assert f"file:{tmp_path / 'ehr-key-jwks.json'}" in "\n".join(notes)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "exp", "iat", "jti"} and claims["exp"] - claims["iat"] == 300
    _trust(secured_service, tmp_path / "ehr-key-jwks.json")
    headers = {"Authorization": f"Bearer {token}"}
    assert secured_service.client.get("/cds-services", headers=headers).status_code == 200
    assert secured_service.client.get("/cds-services", headers=headers).status_code == 401  # jti replayed
    assert secured_service.client.get("/cds-services").status_code == 401


def test_token_for_a_service_call_and_its_feedback(secured_service, tmp_path: Path) -> None:
    key = tmp_path / "ehr-key.pem"
    common = ("--jwt-issuer", "https://ehr.test", "--jwt-key", str(key), "--service-url", "http://localhost/",
              "--service", "brain-metastases")
    call = _token(*common).output.strip().splitlines()[-1]
    assert jwt.decode(call, options={"verify_signature": False})["aud"] == \
        "http://localhost/cds-services/brain-metastases"
    feedback = _token(*common, "--feedback").output.strip().splitlines()[-1]
    _trust(secured_service, tmp_path / "ehr-key-jwks.json")
    answer = secured_service.client.post("/cds-services/brain-metastases/feedback",
                                         json={"feedback": []}, headers={"Authorization": f"Bearer {feedback}"})
    assert answer.status_code != 401, answer.get_json()
    wrong = secured_service.client.post("/cds-services/brain-metastases/feedback", json={"feedback": []},
                                        headers={"Authorization": f"Bearer {call}"})  # aud of the call, not feedback
    assert wrong.status_code == 401


def test_token_with_an_rsa_key_file_and_kid(secured_service, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = tmp_path / "rsa.pem"
    key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    result = _token("--jwt-issuer", "https://ehr.test", "--jwt-key", str(key), "--kid", "hospital-2026",
                    "--aud", "http://localhost/cds-services", "--lifetime", "60")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert jwt.get_unverified_header(token) == {"alg": "RS384", "kid": "hospital-2026", "typ": "JWT"}
    jwks = json.loads((tmp_path / "rsa-jwks.json").read_text())
    assert jwks["keys"][0]["kid"] == "hospital-2026" and jwks["keys"][0]["alg"] == "RS384"
    _trust(secured_service, tmp_path / "rsa-jwks.json")
    assert secured_service.client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--feedback",), "--feedback needs --service"),
        (("--lifetime", "0"), "Invalid value for '--lifetime'"),
    ],
)
def test_token_refuses_bad_options(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    result = _token("--jwt-key", str(tmp_path / "k.pem"), *args)
    assert result.exit_code == 2
    assert message in result.output


def test_token_with_an_unusable_key_file_is_one_line(tmp_path: Path) -> None:
    key = tmp_path / "not-a-key.pem"
    key.write_text("hello")
    result = _token("--jwt-key", str(key))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: JWT key {key}: {key} is not an unencrypted PEM private key")
    assert len(result.output.strip().splitlines()) == 1

def test_token_quiet_prints_only_the_token(tmp_path: Path) -> None:
    result = _token("-q", "--jwt-key", str(tmp_path / "k.pem"), "--service", "brain-metastases")
    assert result.exit_code == 0
    [token] = result.output.splitlines()
    assert jwt.get_unverified_header(token)["alg"] == "ES384"
