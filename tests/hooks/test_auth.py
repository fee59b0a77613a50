"""JWT verification matrix (CDS Hooks 2.0 §Security). Keys are generated here with ``cryptography``."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
import responses
from hook_support import hook_request
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISS_FILE = "https://ehr.example.org"
ISS_URL = "https://sandbox.example.org"
JWKS_URL = "https://sandbox.example.org/.well-known/jwks.json"
DISCOVERY = "http://localhost/cds-services"
INVOKE = "http://localhost/cds-services/brain-metastases"

EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP384R1())
SANDBOX_KEY = ec.generate_private_key(ec.SECP384R1())


def public_jwk(private_key, kid: str, alg: str | None = None) -> dict:
    algorithm = ECAlgorithm if isinstance(private_key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    jwk = algorithm.to_jwk(private_key.public_key(), as_dict=True)
    jwk["kid"] = kid
    if alg:
        jwk["alg"] = alg
    return jwk


def jwks(*keys: dict) -> dict:
    return {"keys": list(keys)}


def make_token(key=EC_KEY, alg="ES384", kid="ec-1", iss=ISS_FILE, aud=DISCOVERY, exp_in=300, iat_in=0,
               jti: str | None = None, extra_headers: dict | None = None, drop: tuple[str, ...] = ()) -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "exp": now + exp_in, "iat": now + iat_in, "jti": jti or str(uuid.uuid4())}
    for name in drop:
        claims.pop(name)
    headers = {"kid": kid, "typ": "JWT", **(extra_headers or {})}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def unsigned_token(aud=DISCOVERY) -> str:
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}." \
           f"{b64({'iss': ISS_FILE, 'aud': aud, 'exp': now + 300, 'iat': now, 'jti': str(uuid.uuid4())})}."


@pytest.fixture
def jwt_app(make_app, tmp_path):
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(EC_KEY, "ec-1", "ES384"), public_jwk(RSA_KEY, "rsa-1"))))
    return make_app(jwt_required=True,
                    trusted_issuers={ISS_FILE: (f"file:{path}",), ISS_URL: (JWKS_URL,)})


@pytest.fixture
def client(jwt_app):
    return jwt_app.test_client()


def get(client, token=None, path="/cds-services"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(path, headers=headers)


def invoke(client, token):
    return client.post("/cds-services/brain-metastases", json=hook_request(),
                       headers={"Authorization": f"Bearer {token}"})


# -- accepted -------------------------------------------------------------------------------------

def test_valid_es384_is_accepted(client):
    assert get(client, make_token()).status_code == 200


def test_valid_rs384_is_accepted_on_a_hook_call(client):
    response = invoke(client, make_token(RSA_KEY, "RS384", "rsa-1", aud=INVOKE))
    assert response.status_code == 200
    assert response.get_json()["cards"]


def test_feedback_audience_is_the_feedback_url(client):
    token = make_token(aud=INVOKE + "/feedback")
    response = client.post("/cds-services/brain-metastases/feedback", headers={"Authorization": f"Bearer {token}"},
                           json={"feedback": [{"card": "c", "outcome": "overridden",
                                               "outcomeTimestamp": "2026-11-24T09:00:00Z"}]})
    assert response.status_code == 200


def test_audience_may_be_a_list(client):
    assert get(client, make_token(aud=["https://other.example.org", DISCOVERY])).status_code == 200


def test_future_iat_within_leeway_is_accepted(client):
    """The sandbox rounds iat up (Math.round): it can be in the future."""
    assert get(client, make_token(iat_in=30)).status_code == 200


def test_jku_on_the_allow_list_is_accepted(client):
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URL, json=jwks(public_jwk(SANDBOX_KEY, "sb-1")))
        token = make_token(SANDBOX_KEY, kid="sb-1", iss=ISS_URL, extra_headers={"jku": JWKS_URL})
        assert get(client, token).status_code == 200


def test_public_base_url_sets_the_expected_audience(make_app, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(EC_KEY, "ec-1"))))
    app = make_app(jwt_required=True, trusted_issuers={ISS_FILE: (f"file:{path}",)},
                   public_base_url="https://cds.example.org/neuro")
    c = app.test_client()
    assert get(c, make_token(aud="https://cds.example.org/neuro/cds-services")).status_code == 200
    assert get(c, make_token(aud=DISCOVERY)).status_code == 401


# -- rejected ----------------------------------------------------------------------------------------

def _hs256():
    return jwt.encode({"iss": ISS_FILE, "aud": DISCOVERY, "exp": int(time.time()) + 300, "iat": int(time.time()),
                       "jti": "x"}, "a-shared-secret-of-at-least-32-bytes!", algorithm="HS256",
                      headers={"kid": "ec-1"})


REJECTED = {
    "no token": lambda: None,
    "alg none": unsigned_token,
    "HS256": _hs256,
    "ES256 is not pinned": lambda: make_token(ec.generate_private_key(ec.SECP256R1()), "ES256"),
    "wrong aud": lambda: make_token(aud="https://other.example.org/cds-services"),
    "aud of another endpoint": lambda: make_token(aud=INVOKE),
    "expired": lambda: make_token(exp_in=-120),
    "iat too far in the future": lambda: make_token(iat_in=600),
    "untrusted iss": lambda: make_token(iss="https://evil.example.org"),
    "jku not allow-listed": lambda: make_token(extra_headers={"jku": "https://evil.example.org/jwks.json"}),
    "signed by another key": lambda: make_token(OTHER_EC_KEY),
    "RSA kid with ES384": lambda: make_token(EC_KEY, "ES384", "rsa-1"),
    "key alg differs": lambda: make_token(RSA_KEY, "RS384", "ec-1"),
    "no kid": lambda: jwt.encode({"iss": ISS_FILE, "aud": DISCOVERY, "exp": int(time.time()) + 60,
                                  "iat": int(time.time()), "jti": "x"}, EC_KEY, algorithm="ES384"),
    "typ not JWT": lambda: make_token(extra_headers={"typ": "at+jwt"}),
    "no jti": lambda: make_token(drop=("jti",)),
    "no exp": lambda: make_token(drop=("exp",)),
    "no iat": lambda: make_token(drop=("iat",)),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_rejected_without_details(client, case):
    response = get(client, REJECTED[case]())
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized", "message": "Unauthorized"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_non_bearer_scheme_is_rejected(client):
    response = client.get("/cds-services", headers={"Authorization": f"Basic {make_token()}"})
    assert response.status_code == 401


def test_replayed_jti_is_rejected(client):
    token = make_token(jti="once")
    assert get(client, token).status_code == 200
    assert get(client, token).status_code == 401
    assert get(client, make_token(jti="once")).status_code == 401


def test_unknown_kid_is_rejected_after_one_refresh(jwt_app):
    client = jwt_app.test_client()
    cache = jwt_app.extensions["cds"].verifier.jwks
    clock = [1000.0]
    cache.clock = lambda: clock[0]
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URL, json=jwks(public_jwk(SANDBOX_KEY, "sb-1")))
        assert get(client, make_token(SANDBOX_KEY, kid="sb-1", iss=ISS_URL)).status_code == 200
        assert len(mock.calls) == 1
        clock[0] += 31
        assert get(client, make_token(SANDBOX_KEY, kid="sb-unknown", iss=ISS_URL)).status_code == 401
        assert len(mock.calls) == 2  # one refresh
        assert get(client, make_token(SANDBOX_KEY, kid="sb-other", iss=ISS_URL)).status_code == 401
        assert len(mock.calls) == 2  # rate-limited: no second refresh


def test_rotated_key_is_found_by_refreshing(jwt_app):
    client = jwt_app.test_client()
    cache = jwt_app.extensions["cds"].verifier.jwks
    clock = [1000.0]
    cache.clock = lambda: clock[0]
    new_key = ec.generate_private_key(ec.SECP384R1())
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URL, json=jwks(public_jwk(SANDBOX_KEY, "sb-1")))
        mock.get(JWKS_URL, json=jwks(public_jwk(SANDBOX_KEY, "sb-1"), public_jwk(new_key, "sb-2")))
        assert get(client, make_token(SANDBOX_KEY, kid="sb-1", iss=ISS_URL)).status_code == 200
        clock[0] += 31
        assert get(client, make_token(new_key, kid="sb-2", iss=ISS_URL)).status_code == 200
        assert len(mock.calls) == 2


def test_jwks_endpoint_down_means_401_not_500(client):
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URL, status=503)
        assert get(client, make_token(SANDBOX_KEY, kid="sb-1", iss=ISS_URL)).status_code == 401


def test_startup_needs_no_network(make_app, tmp_path):
    with responses.RequestsMock() as mock:  # any request would raise ConnectionError
        make_app(jwt_required=True, trusted_issuers={ISS_URL: (JWKS_URL,)})
        assert len(mock.calls) == 0


def test_health_and_metrics_need_no_jwt(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_every_cds_endpoint_needs_a_jwt(client):
    assert client.get("/cds-services").status_code == 401
    assert client.post("/cds-services/brain-metastases", json=hook_request()).status_code == 401
    assert client.post("/cds-services/brain-metastases/feedback", json={"feedback": []}).status_code == 401


def test_the_token_is_never_logged(client, caplog):
    caplog.set_level("DEBUG")
    token = make_token(aud="https://wrong.example.org")
    get(client, token)
    assert "jwt rejected" in caplog.text
    assert token not in caplog.text and token.split(".")[2] not in caplog.text


def test_rejections_are_counted_by_reason(client):
    get(client)
    get(client, "x.y.z")
    get(client, make_token(aud="https://other.example.org/cds-services"))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'cds_jwt_rejected_total{reason="no-token"} 1.0' in metrics
    assert 'cds_jwt_rejected_total{reason="malformed"} 1.0' in metrics
    assert 'cds_jwt_rejected_total{reason="audience"} 1.0' in metrics


def _redis_url() -> str:
    url = "redis://127.0.0.1:6379/15"
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:  # the scale-out backend is optional on a developer machine
        pytest.skip(f"Redis not reachable at {url}: {type(exc).__name__}")
    return url


def test_replay_is_caught_across_worker_processes_with_redis(make_app, tmp_path):
    """Two app instances (= two gunicorn workers) share the jti cache through Redis."""
    url = _redis_url()
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(EC_KEY, "ec-1", "ES384"))))
    workers = [make_app(jwt_required=True, trusted_issuers={ISS_FILE: (f"file:{path}",)}, redis_url=url)
               for _ in range(2)]
    token = make_token(jti=f"redis-{uuid.uuid4()}")
    assert get(workers[0].test_client(), token).status_code == 200
    assert get(workers[1].test_client(), token).status_code == 401
    assert get(workers[1].test_client(), make_token()).status_code == 200


def test_redis_down_rejects_rather_than_accepting_a_possible_replay(make_app, tmp_path):
    pytest.importorskip("redis")
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(EC_KEY, "ec-1", "ES384"))))
    app = make_app(jwt_required=True, trusted_issuers={ISS_FILE: (f"file:{path}",)},
                   redis_url="redis://127.0.0.1:1/0")
    assert get(app.test_client(), make_token()).status_code == 401


# -- token lifetime (issue #12 item 4) --------------------------------------------------------------

def _with_times(exp, iat, jti=None):
    claims = {"iss": ISS_FILE, "aud": DISCOVERY, "exp": exp, "iat": iat, "jti": jti or str(uuid.uuid4())}
    return jwt.encode(claims, EC_KEY, algorithm="ES384", headers={"kid": "ec-1", "typ": "JWT"})


LONG_LIVED = {
    "ten years": lambda now: _with_times(now + 10 * 365 * 86400, now),
    "1e308": lambda now: _with_times(1e308, now),
    "infinity": lambda now: _with_times(float("inf"), now),
    "NaN exp": lambda now: _with_times(float("nan"), now),
    "one hour": lambda now: _with_times(now + 3600, now),
    "lifetime just over the cap": lambda now: _with_times(now + 301, now),
    "iat an hour ago, exp soon": lambda now: _with_times(now + 60, now - 3600),
    "string exp": lambda now: _with_times(str(now + 60), now),
    "boolean iat": lambda now: _with_times(now + 60, True),
}


@pytest.mark.parametrize("case", list(LONG_LIVED))
def test_long_lived_tokens_are_refused(jwt_app, case):
    client = jwt_app.test_client()
    replay = jwt_app.extensions["cds"].verifier.replay
    before = len(replay._seen)
    response = get(client, LONG_LIVED[case](int(time.time())))
    assert response.status_code == 401
    assert len(replay._seen) == before  # the jti never reaches the replay cache


def test_a_token_of_exactly_the_maximum_lifetime_is_accepted(client):
    now = int(time.time())
    assert get(client, _with_times(now + 300, now)).status_code == 200


def test_maximum_lifetime_is_configurable(make_app, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(EC_KEY, "ec-1"))))
    c = make_app(jwt_required=True, trusted_issuers={ISS_FILE: (f"file:{path}",)}, jwt_max_lifetime=60).test_client()
    now = int(time.time())
    assert get(c, _with_times(now + 60, now)).status_code == 200
    assert get(c, _with_times(now + 120, now)).status_code == 401


def test_replay_cache_cannot_be_filled_by_long_lived_tokens(jwt_app):
    """Each accepted jti is kept at most max lifetime + leeway; long-lived tokens never enter it."""
    client = jwt_app.test_client()
    replay = jwt_app.extensions["cds"].verifier.replay
    replay.max_entries = 5
    now = int(time.time())
    for _ in range(20):
        assert get(client, _with_times(now + 10 * 365 * 86400, now)).status_code == 401
    assert len(replay._seen) == 0
    until = []
    for _ in range(3):
        assert get(client, make_token()).status_code == 200
    until = list(replay._seen.values())
    assert all(u <= time.time() + 300 + 60 + 1 for u in until)


def test_an_oversized_jti_is_refused(client):
    assert get(client, make_token(jti="j" * 10_000)).status_code == 401


# -- audience from configuration, never from Host / X-Forwarded-* (issue #12 item 3) -----------------

def test_host_header_does_not_choose_the_audience(client):
    token = make_token(aud="https://other-service.example.org/cds-services")
    response = client.get("/cds-services", headers={"Authorization": f"Bearer {token}",
                                                   "Host": "other-service.example.org"})
    assert response.status_code == 401


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-Proto": "https"},
    {"X-Forwarded-Host": "other-service.example.org", "X-Forwarded-Proto": "https"},
    {"Forwarded": "host=other-service.example.org;proto=https"},
])
def test_forwarded_headers_do_not_choose_the_audience(client, headers):
    host = headers.get("X-Forwarded-Host", "localhost")
    token = make_token(aud=f"https://{host}/cds-services")
    assert get_with(client, token, headers).status_code == 401


def get_with(client, token, headers):
    return client.get("/cds-services", headers={"Authorization": f"Bearer {token}", **headers})


def test_public_base_url_is_the_audience_whatever_the_host(make_app, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(EC_KEY, "ec-1"))))
    c = make_app(jwt_required=True, trusted_issuers={ISS_FILE: (f"file:{path}",)},
                 public_base_url="https://cds.example.org/neuro").test_client()
    token = make_token(aud="https://cds.example.org/neuro/cds-services")
    assert get_with(c, token, {"Host": "evil.example.org", "X-Forwarded-Proto": "http"}).status_code == 200


def test_development_audience_is_the_listening_address_over_a_real_socket(make_app, tmp_path):
    """A real werkzeug server on loopback: aud = the address it listens on (or localhost), never the Host."""
    import threading

    import requests
    from werkzeug.serving import make_server

    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(EC_KEY, "ec-1"))))
    app = make_app(jwt_required=True, trusted_issuers={ISS_FILE: (f"file:{path}",)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    base = f"http://127.0.0.1:{port}"

    def status(aud, **headers):
        token = make_token(aud=aud)
        return requests.get(f"{base}/cds-services", headers={"Authorization": f"Bearer {token}", **headers},
                            timeout=10).status_code

    try:
        assert status(f"{base}/cds-services") == 200
        assert status(f"http://localhost:{port}/cds-services") == 200
        assert status(f"http://evil.example.org:{port}/cds-services", Host=f"evil.example.org:{port}") == 401
        assert status(f"https://127.0.0.1:{port}/cds-services", **{"X-Forwarded-Proto": "https"}) == 401
        assert status(f"http://127.0.0.1:{port + 1}/cds-services") == 401
    finally:
        server.shutdown()
        thread.join(5)


def test_production_has_no_audience_without_the_public_base_url():
    from types import SimpleNamespace

    from cds_service.hooks.auth import expected_audiences

    request = SimpleNamespace(path="/cds-services", environ={"SERVER_NAME": "localhost", "SERVER_PORT": "80",
                                                             "wsgi.url_scheme": "http"})
    assert expected_audiences(request, None, production=True) == ()
    assert expected_audiences(request, None) == ("http://localhost/cds-services", "http://127.0.0.1/cds-services",
                                                 "http://[::1]/cds-services")


# -- why a token was refused is logged (issue #14 item 3) ---------------------------------------------

@pytest.mark.parametrize("token, reason, logged", [
    (lambda: make_token(aud="https://other.example.org/x"), "audience", "https://other.example.org/x"),
    (lambda: make_token(iss="https://evil.example.org"), "untrusted-issuer", "https://evil.example.org"),
    (lambda: None, "no-token", "no Authorization header"),
    (lambda: make_token(drop=("jti",)), "missing-claim", "'jti'"),
    (lambda: make_token(exp_in=3600), "lifetime", "CDS_JWT_MAX_LIFETIME"),
    (lambda: unsigned_token(), "algorithm", "'none'"),
])
def test_rejections_log_the_reason_never_the_token(client, caplog, token, reason, logged):
    caplog.set_level("INFO")
    value = token()
    response = get(client, value)
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized", "message": "Unauthorized"}
    records = [r for r in caplog.records if r.getMessage().startswith("jwt rejected")]
    assert records and records[-1].jwt_reason == reason
    assert logged in records[-1].getMessage()
    if value:
        assert value not in caplog.text
        assert all(part not in caplog.text for part in value.split(".") if len(part) > 20)
    if reason == "audience":
        assert DISCOVERY in records[-1].getMessage()  # expected vs received


def test_forwarded_proto_cannot_change_the_scheme_the_app_sees():
    """gunicorn sets wsgi.url_scheme from X-Forwarded-Proto for loopback peers; the wrapper resets it."""
    import socket as _socket

    from cds_service.hooks.guard import scheme_from_socket

    seen = []
    app = scheme_from_socket(lambda environ, start_response: seen.append(environ["wsgi.url_scheme"]) or [b""])
    with _socket.socket() as plain:
        app({"gunicorn.socket": plain, "wsgi.url_scheme": "https", "HTTP_X_FORWARDED_PROTO": "https"}, None)
    app({"wsgi.url_scheme": "https"}, None)  # no socket (a test client): left alone
    assert seen == ["http", "https"]
