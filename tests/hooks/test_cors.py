"""CORS: preflight without JWT, the headers on every response (errors included), origin allow-list."""

from __future__ import annotations

import pytest
from hook_support import hook_request

PREFLIGHT = {"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


def assert_cors(response, origin="*"):
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"


@pytest.mark.parametrize("path", ["/cds-services", "/cds-services/brain-metastases",
                                  "/cds-services/brain-metastases/feedback"])
def test_preflight_is_answered_without_jwt(make_app, path):
    client = make_app(jwt_required=True, trusted_issuers={"https://ehr": ("https://ehr/jwks",)}).test_client()
    response = client.options(path, headers=PREFLIGHT)
    assert response.status_code == 204
    assert_cors(response)


@pytest.mark.parametrize(
    "call, status",
    [
        (lambda c: c.get("/cds-services"), 200),
        (lambda c: c.post("/cds-services/brain-metastases", json=hook_request()), 200),
        (lambda c: c.post("/cds-services/brain-metastases", json={"hook": "x"}), 400),
        (lambda c: c.post("/cds-services/brain-metastases", data="x", content_type="text/plain"), 415),
        (lambda c: c.post("/cds-services/nope", json=hook_request()), 404),
        (lambda c: c.get("/cds-services/brain-metastases"), 405),
        (lambda c: c.post("/cds-services/brain-metastases/feedback", json={}), 400),
        (lambda c: c.get("/no/such/path"), 404),
    ],
)
def test_headers_on_every_response(client, call, status):
    response = call(client)
    assert response.status_code == status
    assert_cors(response)


def test_headers_on_401(make_app):
    client = make_app(jwt_required=True, trusted_issuers={"https://ehr": ("https://ehr/jwks",)}).test_client()
    response = client.post("/cds-services/brain-metastases", json=hook_request(),
                           headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.status_code == 401
    assert_cors(response)


def test_headers_on_500(make_app):
    from hook_support import make_engine

    def broken(facts, ctx):
        raise RuntimeError("boom")

    client = make_app(engine_=make_engine(broken)).test_client()
    response = client.post("/cds-services/brain-metastases", json=hook_request())
    assert response.status_code == 500
    assert_cors(response)


def test_origin_allow_list_echoes_allowed_origins_only(make_app):
    client = make_app(cors_origins=("https://sandbox.cds-hooks.org",)).test_client()
    allowed = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert_cors(allowed, "https://sandbox.cds-hooks.org")
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/cds-services", headers={"Origin": "https://evil.example.org"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]
