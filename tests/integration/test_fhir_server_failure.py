"""The FHIR server goes away mid-run: the service says so with 412, and the EHR's prefetch still works.

A server of its own (not the session one) so stopping it cannot disturb the other tests.
"""

from __future__ import annotations

import pytest
import requests

from cds_service.ehr.fhir import FhirRestClient
from cds_service.ehr.fixtures import FixtureLoader, case_patient_id, read_bundles, read_cases
from cds_service.ehr.prefetch import run_prefetch
from cds_service.ehr.request import build_request
from cds_service.services import PREFETCH, SERVICES_BY_ID
from live_servers import LiveServer, NodeFhirServer, make_cds_app, without_uuids

pytestmark = pytest.mark.integration


def _patient_view_case() -> tuple[str, str]:
    """(patient id, service id) of the first fixture case for a patient-view service."""
    for case in read_cases():
        for service_id in case.get("expect") or {}:
            if SERVICES_BY_ID[service_id].hook == "patient-view":
                return case_patient_id(case), service_id
    pytest.skip("no fixture case for a patient-view service yet")


def _post(cds: LiveServer, service_id: str, body: dict) -> requests.Response:
    return requests.post(f"{cds.url}/cds-services/{service_id}", json=body, timeout=60)


@pytest.fixture
def own_fhir_server():
    server = NodeFhirServer()
    yield server
    server.stop()


def test_fhir_server_stopped_mid_run(own_fhir_server, cds, discovery, tmp_path) -> None:
    patient_id, service_id = _patient_view_case()
    fhir = FhirRestClient(own_fhir_server.base)
    [loaded] = FixtureLoader(fhir).load(read_bundles([patient_id]))
    assert loaded.ok

    app = make_cds_app(own_fhir_server.base, tmp_path / "feedback.sqlite3", engine=cds.app.extensions["cds"].engine)
    service = LiveServer(app)
    try:
        body = build_request("patient-view", patient_id=patient_id, fhir_server=own_fhir_server.base)
        ehr_prefetch = run_prefetch(discovery[service_id]["prefetch"], body["context"], fhir)
        assert not ehr_prefetch.failed
        before = _post(service, service_id, body)
        assert before.status_code == 200, before.text

        own_fhir_server.stop()  # mid-run: the service can no longer fetch

        after = _post(service, service_id, body)
        assert after.status_code == 412
        assert after.headers["Content-Type"].startswith("application/json")
        problem = after.json()
        keys = SERVICES_BY_ID[service_id].prefetch_keys
        assert problem["error"] == "precondition-failed"
        assert sorted(m["key"] for m in problem["missing"]) == sorted(k for k in keys if PREFETCH[k].required)
        assert sorted(m["key"] for m in problem["unavailable"]) == sorted(k for k in keys if not PREFETCH[k].required)
        for missing in problem["missing"]:
            assert missing["query"] == PREFETCH[missing["key"]].query  # the template: no patient id in the body
            assert missing["reason"].startswith("fetch failed")
        assert patient_id not in after.text

        # An EHR that prefetched does not need the FHIR server: same cards as before it went away.
        prefetched = _post(service, service_id, {**body, "prefetch": ehr_prefetch.prefetch})
        assert prefetched.status_code == 200, prefetched.text
        assert without_uuids(prefetched.json()) == without_uuids(before.json())
    finally:
        service.stop()
