"""The OpenAPI 3 description (``/openapi.json``) and a fuzz run generated from it.

schemathesis generates requests for every operation from the document — valid ones and, in
negative mode, ones that break the schema (wrong types, missing fields, odd strings, other media
types) — and sends them to the real service (real engine) in-process. Every answer must be < 500,
JSON (``/metrics``: Prometheus text), without a stack trace, and as the document describes it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from cds_service.app import create_app
from cds_service.config import Config
from cds_service.hooks.openapi import openapi_document
from cds_service.services import SERVICES

# A FHIR server nothing listens on: a generated fhirServer that happened to equal it would be refused
# at once; anything else is not on the allow-list and is refused without a connection.
ALLOWED_FHIR = "http://127.0.0.1:1/fhir"
EXAMPLES_PER_MODE = 120  # per operation and mode: 7 POSTs × 2 modes + 4 GETs → about 1,350 requests
FEEDBACK_EXAMPLES = 80  # feedback bodies (up to 100 items of long strings) are the slowest to generate
FUZZED = {"requests": 0, "by_status": {}}
_lock = threading.Lock()


def test_the_document_is_served_and_kept_in_step_with_the_app(app, client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc == openapi_document() and doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/smart/"):
            continue  # the SMART app's browser pages (OAuth redirects, HTML, assets) are not part of this API
        path = rule.rule.replace("<service_id>", "{service_id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if path == "/cds-services/{service_id}":
                routed |= {(f"/cds-services/{s.id}", method) for s in SERVICES}
            else:
                routed.add((path, method))
    assert documented == routed
    feedback_ids = doc["paths"]["/cds-services/{service_id}/feedback"]["post"]["parameters"][0]["schema"]["enum"]
    assert feedback_ids == [s.id for s in SERVICES]
    for service in SERVICES:
        body = doc["paths"][f"/cds-services/{service.id}"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["properties"]["hook"]["enum"] == [service.hook]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, real_engine):
    # Durability is tested elsewhere (tests/ops): a RAM disk spares the fuzz run an fsync per feedback post.
    shm = Path("/dev/shm")
    directory = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path_factory.mktemp("fuzz")
    config = Config(database=str(directory / "feedback.sqlite3"),
                    allowed_fhir_servers=(ALLOWED_FHIR,), fhir_timeout=2.0)
    app = create_app(config, engine=real_engine)
    yield app
    app.extensions["cds"].close()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)


def header(response, name: str) -> str:
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return ""


def check_answer(response, case) -> None:
    """Never a 5xx, never a non-JSON body, never a stack trace; errors say what is wrong."""
    with _lock:
        FUZZED["requests"] += 1
        FUZZED["by_status"][response.status_code] = FUZZED["by_status"].get(response.status_code, 0) + 1
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    text = response.text
    assert "Traceback" not in text and 'File "' not in text
    content_type = header(response, "Content-Type")
    if case.path == "/metrics":
        assert content_type.startswith("text/plain")
        return
    assert content_type.startswith("application/json"), (case.path, content_type)
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body


# Operations without parameters or body (the GETs) have nothing to break: valid requests only.
OPERATIONS = [
    (method.upper(), path, mode)
    for path, item in openapi_document()["paths"].items() for method, operation in item.items()
    for mode in ([GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if "requestBody" in operation
                 else [GenerationMode.POSITIVE])
]


@pytest.mark.real_engine
@pytest.mark.parametrize("method, path, mode", OPERATIONS,
                         ids=[f"{m} {p} {'valid' if g is GenerationMode.POSITIVE else 'invalid'}"
                              for m, p, g in OPERATIONS])
def test_fuzz_every_operation(api_schema, method, path, mode):
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    conformance = [schemathesis.checks.status_code_conformance, schemathesis.checks.content_type_conformance]
    if mode is GenerationMode.POSITIVE:
        conformance.append(schemathesis.checks.response_schema_conformance)

    @given(case=strategy)
    @settings(max_examples=FEEDBACK_EXAMPLES if path.endswith("/feedback") else EXAMPLES_PER_MODE, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None, phases=[Phase.generate])
    def run(case):
        response = case.call()
        check_answer(response, case)
        case.validate_response(response, checks=conformance)

    run()


def test_fuzz_figures():
    """Runs after the fuzz run (same module): how many requests it sent."""
    if FUZZED["requests"] == 0:
        pytest.skip("the fuzz run did not run in this session")
    print(f"\nfuzzed {FUZZED['requests']} requests; statuses {dict(sorted(FUZZED['by_status'].items()))}")
    assert FUZZED["requests"] >= 1100
    assert set(FUZZED["by_status"]) - {200, 400, 404, 405, 412, 413, 415} == set()
