"""A real FHIR R4 server and the real CDS service, both on loopback, for the integration suite.

- ``fhir_server``: the Node server of ``integration/fhir-server`` (Medplum's
  FhirRouter + MemoryRepository) on a free port. Skipped, with the command
  to run, only when its ``node_modules`` are not installed (CI runs
  ``npm ci --prefix integration/fhir-server`` first).
- ``loaded_fhir``: every fixture bundle loaded into it with the EHR loader
  (dates as written: the service's clock is frozen at FIXTURE_NOW).
- ``cds``: ``create_app`` with an allow-list naming that server, JWT off and
  ``fixed_now`` = FIXTURE_NOW, served by werkzeug's ``make_server`` in a thread.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Iterator

import pytest
import requests

from cds_service.ehr.fhir import FhirRestClient
from cds_service.ehr.fixtures import FixtureLoader, read_bundles, read_cases, service_patient_ids
from live_servers import LiveServer, NodeFhirServer, SwitchableClock, make_cds_app


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[NodeFhirServer]:
    server = NodeFhirServer()
    yield server
    server.stop()


@dataclass
class LoadedFhir:
    base: str
    client: FhirRestClient
    patient_ids: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)  # patient id -> resources the server refused


@pytest.fixture(scope="session")
def loaded_fhir(fhir_server: NodeFhirServer) -> LoadedFhir:
    """Every bundled fixture patient, loaded once with the EHR loader (no date shift).

    A patient of a case with service expectations must load completely: a real server validates
    what it stores. The facts layer's ``facts_only`` fixtures hold deliberately malformed resources;
    those the server refuses are reported as a warning.
    """
    client = FhirRestClient(fhir_server.base)
    bundles = read_bundles()
    results = FixtureLoader(client).load(bundles)
    refused = {r.patient_id: r.errors for r in results if not r.ok}
    for_services = service_patient_ids(read_cases())
    broken = {pid: errors for pid, errors in refused.items() if pid in for_services}
    assert not broken, f"the FHIR server refused resources of fixture patients the services are tested on: {broken}"
    if refused:
        count = sum(len(errors) for errors in refused.values())
        warnings.warn(f"the FHIR server refused {count} resource(s) of facts-only fixtures "
                      f"{', '.join(sorted(refused))}: {[e for errors in refused.values() for e in errors]}",
                      stacklevel=1)
    return LoadedFhir(base=fhir_server.base, client=client, patient_ids=list(bundles), refused=refused)


@pytest.fixture(scope="session")
def service_clock() -> SwitchableClock:
    return SwitchableClock()


@pytest.fixture(scope="session")
def cds(loaded_fhir: LoadedFhir, service_clock: SwitchableClock,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = make_cds_app(loaded_fhir.base, tmp_path_factory.mktemp("cds") / "feedback.sqlite3", clock=service_clock)
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def discovery(cds: LiveServer) -> dict[str, dict]:
    """The services as the running service announces them, by id."""
    response = requests.get(f"{cds.url}/cds-services", timeout=30)
    assert response.status_code == 200
    return {s["id"]: s for s in response.json()["services"]}
