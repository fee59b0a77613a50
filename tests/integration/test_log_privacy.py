"""Logs of a full run hold no patient data and no tokens (issue #16, item 5).

Every fixture case is called over HTTP without prefetch (the service fetches each key from the real FHIR
server, with a bearer token), with prefetch where the case declares keys unavailable, plus feedback whose
comment names the patient — while every log record of the process, at DEBUG and with the service's own
JSON formatter and third-party limits, is captured. Then the captured text is searched for every fixture
patient id, every patient name and the tokens: none may appear.
"""

from __future__ import annotations

import io
import logging
import re
import uuid

import pytest
import requests

from cds_service.ehr.fixtures import bundle_resources, case_context, case_patient_id, read_bundles, read_cases
from cds_service.hooks.logs import THIRD_PARTY_LOGGERS, JsonFormatter, quiet_third_party_loggers

pytestmark = pytest.mark.integration

TOKEN = f"secret-fhir-token-{uuid.uuid4().hex}"
JWT_LIKE = "eyJhbGciOiJFUzM4NCJ9.eyJwYXRpZW50IjoieCJ9.c2lnbmF0dXJlLXNlY3JldA"


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet_third_party_loggers()  # exactly what configure_logging does in production
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


def test_a_full_run_logs_no_patient_ids_names_or_tokens(cds, discovery, loaded_fhir, captured_logs):
    cases = [c for c in read_cases() if c.get("expect")]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {JWT_LIKE}"  # JWT off here: ignored, must not be logged
    auth = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
            "subject": "cds-client"}
    statuses = set()
    for case in cases:
        for service_id in case["expect"]:
            hook = discovery[service_id]["hook"]
            body = {"hookInstance": str(uuid.uuid4()), "hook": hook, "fhirServer": loaded_fhir.base,
                    "fhirAuthorization": auth, "context": case_context(case, hook)}
            response = session.post(f"{cds.url}/cds-services/{service_id}", json=body, timeout=60)
            statuses.add(response.status_code)
            assert TOKEN not in response.text
            if response.status_code == 200 and response.json()["cards"]:
                card = response.json()["cards"][0]
                session.post(f"{cds.url}/cds-services/{service_id}/feedback", timeout=30, json={"feedback": [{
                    "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-24T09:05:00Z",
                    "overrideReason": {"userComment": f"patient {case_patient_id(case)} besproken"}}]})
        # a bad request that quotes the patient id back to the client (400) — but never into the log
        session.post(f"{cds.url}/cds-services/brain-metastases", timeout=30, json={
            "hookInstance": str(uuid.uuid4()), "hook": "patient-view",
            "context": {"userId": "Practitioner/x", "patientId": f"Patient/{case_patient_id(case)}"}})
    log = captured_logs.getvalue()
    assert 200 in statuses and log.count('"logger": "cds_service.access"') >= len(cases)

    bundles = read_bundles({case_patient_id(c) for c in cases})
    names = set()
    for bundle in bundles.values():
        for resource in bundle_resources(bundle):
            if resource.get("resourceType") == "Patient":
                for name in resource.get("name", ()):
                    names.update(n for n in [name.get("family"), *name.get("given", ())] if n and len(n) > 3)
    forbidden = {TOKEN, JWT_LIKE, *bundles, *names}
    found = sorted(w for w in forbidden if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", log))
    assert found == []
