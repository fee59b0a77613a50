"""Fixtures of the SMART app tests: the integration FHIR server, the SMART EHR proxy in front of it, the service."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from live_servers import REPO, LiveServer, NodeFhirServer, NodeProcess  # noqa: E402

SMART_DIR = REPO / "integration" / "smart-auth"
LFORMS_DIR = SMART_DIR / "node_modules" / "lforms" / "dist" / "lforms"


class SmartEhr(NodeProcess):
    """``node integration/smart-auth/server.mjs --fhir <backend>``: the EHR's SMART launch + FHIR proxy."""

    def __init__(self, backend: str, startup_timeout: float = 30.0) -> None:
        if not (SMART_DIR / "node_modules" / "oauth2-mock-server").is_dir():
            pytest.skip("integration/smart-auth/node_modules is not installed: run `make smart-app`")
        super().__init__(["server.mjs", "--fhir", backend], SMART_DIR, "the SMART EHR server", startup_timeout)
        self.iss = self.address
        self.root = self.iss.removesuffix("/fhir")


@pytest.fixture(scope="module")
def backend() -> Iterator[NodeFhirServer]:
    server = NodeFhirServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smart_ehr(backend: NodeFhirServer) -> Iterator[SmartEhr]:
    ehr = SmartEhr(backend.base)
    yield ehr
    ehr.stop()


@pytest.fixture(scope="module")
def service(backend: NodeFhirServer, smart_ehr: SmartEhr, tmp_path_factory) -> Iterator[LiveServer]:
    from cds_service.app import create_app
    from cds_service.config import Config
    from cds_service.ehr.fixtures import FIXTURE_NOW
    from cds_service.smart.routes import smart_state

    cfg = Config(allowed_fhir_servers=(backend.base, smart_ehr.iss), jwt_required=False, fixed_now=FIXTURE_NOW,
                 database=str(tmp_path_factory.mktemp("smart") / "feedback.sqlite3"))
    app = create_app(cfg)
    with app.test_request_context():
        state = smart_state()  # LHC-Forms as packaged by `make smart-app`, else straight from node_modules
        if state.lforms_dir is None and LFORMS_DIR.is_dir():
            state.lforms_dir = LFORMS_DIR
    server = LiveServer(app)
    yield server
    server.stop()
