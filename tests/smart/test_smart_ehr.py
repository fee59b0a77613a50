"""The test-side SMART EHR (integration/smart-auth/server.mjs) is strict enough that the e2e test proves
something: the app gets in only through a real EHR launch with PKCE, and only inside its patient and scopes."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

pytestmark = pytest.mark.integration
CLIENT = "neuro-onc-cds"
REDIRECT = "http://127.0.0.1:1/callback"


def authorize(ehr, **overrides) -> dict:
    launch = requests.post(f"{ehr.root}/ehr/launch", json={"patient": "p-1", "user": "Practitioner/u-1"},
                           timeout=10).json()["launch"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    config = requests.get(f"{ehr.iss}/.well-known/smart-configuration", timeout=10).json()
    query = {"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT, "launch": launch,
             "scope": "launch openid fhirUser patient/Observation.rs patient/Observation.c", "state": "s",
             "aud": ehr.iss, "code_challenge": challenge, "code_challenge_method": "S256", **overrides}
    query = {k: v for k, v in query.items() if v is not None}
    reply = requests.get(config["authorization_endpoint"], params=query, allow_redirects=False, timeout=10)
    back = parse_qs(urlsplit(reply.headers["Location"]).query)
    return {"config": config, "verifier": verifier, "back": {k: v[0] for k, v in back.items()}}


def token(step, verifier=None) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": step["back"]["code"], "redirect_uri": REDIRECT,
            "client_id": CLIENT, "code_verifier": verifier or step["verifier"]}
    return requests.post(step["config"]["token_endpoint"], data=form, timeout=10)


def test_smart_configuration_on_the_fhir_base(smart_ehr):
    config = requests.get(f"{smart_ehr.iss}/.well-known/smart-configuration", timeout=10).json()
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-ehr", "context-ehr-patient", "permission-v2"} <= set(config["capabilities"])


@pytest.mark.parametrize("overrides, why", [({"launch": "not-issued"}, "launch"), ({"aud": "http://other/fhir"}, "aud"),
                                            ({"code_challenge_method": None, "code_challenge": None}, "S256")])
def test_authorize_refuses_a_launch_that_is_not_a_smart_ehr_launch(smart_ehr, overrides, why):
    back = authorize(smart_ehr, **overrides)["back"]
    assert "code" not in back and back["error"] == "invalid_request" and why in back["error_description"]


def test_token_carries_the_launch_context_and_the_proxy_enforces_patient_and_scopes(smart_ehr):
    step = authorize(smart_ehr)
    assert token(step, verifier=secrets.token_urlsafe(48)).status_code == 400  # wrong PKCE verifier
    step = authorize(smart_ehr)
    body = token(step).json()
    assert body["patient"] == "p-1" and body["token_type"] == "Bearer"
    assert body["scope"] == "launch openid fhirUser patient/Observation.rs patient/Observation.c"
    assert token(step).status_code == 400  # a code is used once
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    base = smart_ehr.iss
    assert requests.get(f"{base}/Observation?patient=p-1", timeout=10).status_code == 401
    assert requests.get(f"{base}/Observation?patient=p-1", headers=auth, timeout=10).status_code == 200
    assert requests.get(f"{base}/Observation?patient=p-2", headers=auth, timeout=10).status_code == 403
    assert requests.get(f"{base}/Condition?patient=p-1", headers=auth, timeout=10).status_code == 403  # no scope
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueBoolean": True}
    other = requests.post(f"{base}/Observation", json={**obs, "subject": {"reference": "Patient/p-2"}},
                          headers=auth, timeout=10)
    assert other.status_code == 403
    created = requests.post(f"{base}/Observation", json={**obs, "subject": {"reference": "Patient/p-1"}},
                            headers=auth, timeout=10)
    assert created.status_code == 201 and created.json()["id"]
