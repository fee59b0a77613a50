"""Helpers of the integration suite: the Node FHIR server, a threaded WSGI server, the service app.

Kept out of conftest.py so test modules can import them by name.
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from cds_service.ehr.fixtures import FIXTURE_NOW

REPO = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO / "integration" / "fhir-server"
NODE_MODULES = SERVER_DIR / "node_modules"


class NodeProcess:
    """A Node server of the tests (``node <script> …`` in ``cwd``) that prints ``listening <url>`` once it
    accepts requests; ``address`` is that URL. Fails the test, with the server's stderr, when it does not."""

    def __init__(self, args: list[str], cwd: Path, name: str, startup_timeout: float) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node_modules is installed but `node` is not on PATH")
        self.proc = subprocess.Popen([node, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.stderr: list[str] = []
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()
        try:
            first = lines.get(timeout=startup_timeout)
        except queue.Empty:
            self.stop()
            pytest.fail(f"{name} did not start within {startup_timeout:g} s: {''.join(self.stderr)}")
        if not first.startswith("listening "):
            self.stop()
            pytest.fail(f"unexpected first line from {name}: {first!r} {''.join(self.stderr)}")
        self.address = first.removeprefix("listening ").strip()

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink(line)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class NodeFhirServer(NodeProcess):
    """``node server.mjs --port 0``; ``base`` is the FHIR base URL it printed."""

    def __init__(self, startup_timeout: float = 60.0) -> None:
        if not (NODE_MODULES / "@medplum" / "fhir-router").is_dir():
            pytest.skip(f"{NODE_MODULES.relative_to(REPO)} is not installed: run "
                        "`npm ci --prefix integration/fhir-server` to run the integration suite")
        super().__init__(["server.mjs", "--port", "0"], SERVER_DIR, "the FHIR server", startup_timeout)
        self.base = self.address


class LiveServer:
    """A WSGI app on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        state = self.app.extensions.get("cds")
        if state is not None:
            state.close()


@dataclass
class SwitchableClock:
    """The service's clock: FIXTURE_NOW, or a case's own ``now`` while that case runs."""

    now: datetime = FIXTURE_NOW

    def __call__(self) -> datetime:
        return self.now


def make_cds_app(fhir_base: str, database: Path, *, clock=None, engine=None, **config):
    """The real service, allowed to fetch from ``fhir_base`` only, JWT off, clock frozen at FIXTURE_NOW."""
    from cds_service.app import create_app
    from cds_service.config import Config

    cfg = Config(allowed_fhir_servers=(fhir_base,), jwt_required=False, fixed_now=FIXTURE_NOW,
                 database=str(database), **config)
    return create_app(cfg, engine=engine, clock=clock)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def without_uuids(value: Any) -> Any:
    """The JSON with every UUID replaced by a placeholder (card, suggestion and resource ids are new per call)."""
    if isinstance(value, dict):
        return {k: without_uuids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_uuids(v) for v in value]
    if isinstance(value, str):
        return _UUID.sub("<uuid>", value)
    return value
