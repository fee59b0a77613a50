"""The SMART app's HTTP endpoints without a browser: launch checks, sessions, explicit save, refusals."""

from __future__ import annotations

import pytest
import responses

from cds_service.app import create_app
from cds_service.config import Config
from cds_service.ehr.fixtures import FIXTURE_NOW
from cds_service.smart.oauth import SmartSession, read_scopes, requested_scope
from cds_service.smart.routes import COOKIE, smart_state

ISS = "http://127.0.0.1:9999/fhir"
SMART_CONFIG = {"authorization_endpoint": "http://127.0.0.1:9998/authorize",
                "token_endpoint": "http://127.0.0.1:9998/token", "jwks_uri": "http://127.0.0.1:9998/jwks",
                "code_challenge_methods_supported": ["S256"]}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cfg = Config(allowed_fhir_servers=(ISS,), jwt_required=False, fixed_now=FIXTURE_NOW,
                 database=str(tmp_path_factory.mktemp("smart") / "f.sqlite3"))
    return create_app(cfg)


@pytest.fixture
def client(app):
    return app.test_client()


def test_requested_scopes_are_what_the_evaluation_reads_and_the_two_writes():
    scopes = requested_scope().split()
    assert scopes[:3] == ["launch", "openid", "fhirUser"]
    assert "patient/Patient.r" in scopes and "patient/Observation.rs" in scopes
    assert scopes[-2:] == ["patient/Observation.c", "patient/QuestionnaireResponse.c"]
    assert not [s for s in scopes if "*" in s or s.startswith("user/") or s.endswith((".u", ".d"))]
    assert len(read_scopes()) == len(set(read_scopes()))


def test_launch_needs_iss_and_launch(client):
    reply = client.get("/smart/launch?iss=" + ISS)
    assert reply.status_code == 400 and reply.json["field"] == "launch"


def test_launch_refuses_a_fhir_server_not_on_the_allow_list(client):
    reply = client.get("/smart/launch?iss=https://evil.example.com/fhir&launch=x")
    assert reply.status_code == 400 and reply.json["error"] == "fhir-server-not-allowed"


@responses.activate
def test_launch_refuses_an_authorization_server_without_pkce_s256(client):
    responses.get(f"{ISS}/.well-known/smart-configuration",
                  json={**SMART_CONFIG, "code_challenge_methods_supported": ["plain"]})
    reply = client.get(f"/smart/launch?iss={ISS}&launch=abc")
    assert reply.status_code == 502 and "S256" in reply.json["message"]


@responses.activate
def test_launch_redirects_to_authorize_with_pkce_state_aud_and_launch(client):
    responses.get(f"{ISS}/.well-known/smart-configuration", json=SMART_CONFIG)
    reply = client.get(f"/smart/launch?iss={ISS}&launch=abc&service=brain-metastases")
    assert reply.status_code == 302
    from urllib.parse import parse_qs, urlsplit
    target = urlsplit(reply.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == SMART_CONFIG["authorization_endpoint"]
    assert query["launch"] == "abc" and query["aud"] == ISS and query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43 and len(query["state"]) >= 32
    assert query["scope"] == requested_scope() and query["response_type"] == "code"
    cookie = reply.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_callback_with_a_wrong_state_is_refused(client, app):
    with app.test_request_context():
        sid = smart_state().sessions.create(SmartSession(iss=ISS, state="right", verifier="v", config=SMART_CONFIG,
                                                         redirect_uri="http://x/smart/callback",
                                                         services=("brain-metastases",)))
    client.set_cookie(COOKIE, sid, path="/smart")
    reply = client.get("/smart/callback?code=c&state=wrong")
    assert reply.status_code == 400 and reply.json["error"] == "smart-launch-failed"


def test_the_api_needs_a_launched_session(client):
    assert client.get("/smart/api/questionnaire").status_code == 401
    assert client.post("/smart/api/save", json={"questionnaireResponse": {}, "confirmed": True}).status_code == 401


def authorized(app, client) -> SmartSession:
    session = SmartSession(iss=ISS, state="s", verifier="v", config=SMART_CONFIG, redirect_uri="http://x",
                           services=("brain-metastases",), access_token="t", patient="p1",
                           user="Practitioner/d1")
    with app.test_request_context():
        from cds_service.hooks.state import get_state
        from cds_service.smart import questionnaire as q
        engine = get_state().engine
        ask = q.askable(engine.extractor.mappings, "expected_survival_months", engine.catalogue, q.local_displays())
        session.asked = {"expected_survival_months": ask}
        sid = smart_state().sessions.create(session)
    client.set_cookie(COOKIE, sid, path="/smart")
    return session


@responses.activate
def test_nothing_is_written_without_the_explicit_confirmation(app, client):
    authorized(app, client)
    qr = {"item": [{"linkId": "expected_survival_months", "answer": [{"valueDecimal": 12}]}]}
    reply = client.post("/smart/api/save", json={"questionnaireResponse": qr})
    assert reply.status_code == 400 and reply.json["field"] == "confirmed"
    assert len(responses.calls) == 0


@responses.activate
def test_out_of_range_answers_are_refused_before_anything_is_written(app, client):
    authorized(app, client)
    qr = {"item": [{"linkId": "expected_survival_months", "answer": [{"valueDecimal": 900}]}]}
    reply = client.post("/smart/api/save?lang=en", json={"questionnaireResponse": qr, "confirmed": True})
    assert reply.status_code == 422 and reply.json["error"] == "answers-refused"
    assert "outside the allowed range 0–600" in reply.json["problems"][0]["message"]
    assert len(responses.calls) == 0


@responses.activate
def test_a_refused_write_is_reported_not_hidden(app, client):
    authorized(app, client)
    responses.post(f"{ISS}/QuestionnaireResponse", status=403, json={"resourceType": "OperationOutcome"})
    qr = {"item": [{"linkId": "expected_survival_months", "answer": [{"valueDecimal": 12}]}]}
    reply = client.post("/smart/api/save", json={"questionnaireResponse": qr, "confirmed": True})
    assert reply.status_code == 502 and "HTTP 403" in reply.json["message"]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer t"


def test_the_page_is_served_and_lforms_is_reported_when_absent(client, app):
    page = client.get("/smart/app")
    assert page.status_code == 200 and b"lhc-forms.js" in page.data and b"static/app.js" in page.data
    with app.test_request_context():
        smart_state().lforms_dir = None
    missing = client.get("/smart/vendor/lforms/webcomponent/lhc-forms.js")
    assert missing.status_code == 404 and "make smart-app" in missing.json["message"]
    assert client.get("/smart/static/app.js").status_code == 200
    assert client.get("/smart/static/../routes.py").status_code == 404


def test_the_app_pages_get_their_own_csp_and_json_answers_keep_the_strict_one(client):
    page = client.get("/smart/app")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-eval'" not in csp and "object-src 'none'" in csp
    assert "X-Frame-Options" not in page.headers  # EHRs embed SMART apps in a frame
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Cache-Control"] == "no-store"
    discovery = client.get("/cds-services")
    assert discovery.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert discovery.headers["X-Frame-Options"] == "DENY"


def signed_id_token(user: str, audience: str):
    """An RS256 id_token and the JWKS that verifies it."""
    import json
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="RS256", use="sig")
    now = int(time.time())
    token = jwt.encode({"iss": "http://127.0.0.1:9998", "sub": user, "fhirUser": user, "aud": audience,
                        "iat": now, "exp": now + 300}, key, algorithm="RS256", headers={"kid": "k1"})
    return token, {"keys": [jwk]}


@responses.activate
def test_callback_exchanges_the_code_with_the_verifier_and_keeps_the_token_on_the_server(app, client):
    from urllib.parse import parse_qs, urlsplit

    responses.get(f"{ISS}/.well-known/smart-configuration", json=SMART_CONFIG)
    launch = client.get(f"/smart/launch?iss={ISS}&launch=abc&lang=en")
    state = parse_qs(urlsplit(launch.headers["Location"]).query)["state"][0]
    id_token, jwks = signed_id_token("Practitioner/dr-a", "neuro-onc-cds")
    responses.get(SMART_CONFIG["jwks_uri"], json=jwks)
    responses.post(SMART_CONFIG["token_endpoint"], json={
        "access_token": "secret-token", "token_type": "Bearer", "expires_in": 3600, "patient": "p1",
        "scope": "launch openid fhirUser patient/Observation.rs", "id_token": id_token})
    reply = client.get(f"/smart/callback?code=the-code&state={state}")
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/smart/app?lang=en")
    assert b"secret-token" not in reply.data and "secret-token" not in str(reply.headers)
    token_call = next(c for c in responses.calls if c.request.url == SMART_CONFIG["token_endpoint"])
    form = parse_qs(token_call.request.body)
    assert form["code"] == ["the-code"] and form["grant_type"] == ["authorization_code"]
    assert len(form["code_verifier"][0]) >= 43 and form["client_id"] == ["neuro-onc-cds"]
    launch_sid = launch.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    with app.test_request_context():
        sid = client.get_cookie(COOKIE, path="/smart").value
        session = smart_state().sessions.get(sid)
        assert sid != launch_sid and smart_state().sessions.get(launch_sid) is None  # rotated after login
    assert (session.patient, session.user, session.access_token) == ("p1", "Practitioner/dr-a", "secret-token")
    again = client.get(f"/smart/callback?code=the-code&state={state}")
    assert again.status_code == 400  # the state is spent: a code is used once
    client.set_cookie(COOKIE, launch_sid, path="/smart")
    assert client.get("/smart/api/questionnaire").status_code == 401  # the pre-login id is dead
