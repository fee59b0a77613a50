"""Helpers of the operations tests: the real service under gunicorn on loopback, fixture hook requests.

``Gunicorn`` runs ``python -m gunicorn -c python:cds_service.gunicorn_conf cds_service.wsgi:app`` in its
own process group (so a test can SIGKILL master and workers at once), with the production entry point,
JWT off, a frozen clock, and stderr captured to a file (the privacy test reads it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import requests

from cds_service.ehr.fixtures import FIXTURE_NOW, bundle_resources, case_context, case_patient_id, read_bundles, read_cases
from cds_service.services import PREFETCH, SERVICES_BY_ID

# An allow-list entry nothing listens on: every request here is fully prefetched (no FHIR fetches).
NO_FHIR = "http://127.0.0.1:1/fhir"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """The service under gunicorn on a free loopback port; ``stop()`` or ``kill()`` it."""

    def __init__(self, tmp_path: Path, *, database: str, workers: int = 2, threads: int = 4,
                 env: dict[str, str] | None = None, log_name: str = "gunicorn.log",
                 startup_timeout: float = 90.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / log_name
        self.metrics_dir = tmp_path / "prometheus"
        self.metrics_dir.mkdir(exist_ok=True)
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CDS_", "PROMETHEUS_"))},
            "CDS_DATABASE": database,
            "CDS_JWT_REQUIRED": "false",
            "CDS_ALLOWED_FHIR_SERVERS": NO_FHIR,
            "CDS_FIXED_NOW": FIXTURE_NOW.isoformat(),
            "CDS_LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            **(env or {}),
        }
        cmd = [sys.executable, "-m", "gunicorn", "-c", "python:cds_service.gunicorn_conf",
               "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{self.port}",
               "--graceful-timeout", "5", "cds_service.wsgi:app"]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready(startup_timeout, workers)

    def _wait_ready(self, timeout: float, workers: int) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    # every worker has booted when the log says so (each writes one line)
                    if self.log().count("Booting worker") >= workers:
                        return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy within {timeout:g} s: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL master and workers at once: nothing gets to flush or clean up."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._log.close()


# -- fixture hook requests ------------------------------------------------------------------------

def prefetch_of(bundle: dict, service_id: str) -> dict:
    """A complete prefetch for ``service_id`` from a fixture patient's bundle (what an EHR would send)."""
    resources = bundle_resources(bundle)
    out: dict[str, Any] = {}
    for key in SERVICES_BY_ID[service_id].prefetch_keys:
        spec = PREFETCH[key]
        matching = [r for r in resources if r.get("resourceType") == spec.resource_type]
        if not spec.is_search:
            out[key] = matching[0] if matching else None
        else:
            out[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(matching),
                        "entry": [{"resource": r} for r in matching]}
    return out


def fixture_requests(limit: int | None = None) -> list[tuple[str, str, dict]]:
    """``(service id, language, body)`` for every fixture case and each service it names, fully prefetched.

    Cases with their own ``now`` are left out (the server's clock is frozen at FIXTURE_NOW).
    """
    cases = [c for c in read_cases() if c.get("expect") and not c.get("now")]
    bundles = read_bundles({case_patient_id(c) for c in cases})
    out = []
    for n, case in enumerate(cases):
        for service_id in sorted(case["expect"]):
            service = SERVICES_BY_ID.get(service_id)
            if service is None:
                continue
            body = {"hook": service.hook, "hookInstance": f"fixture-{n}-{service_id}",
                    "context": case_context(case, service.hook, user_id="Practitioner/ops-test"),
                    "prefetch": prefetch_of(bundles[case_patient_id(case)], service_id)}
            out.append((service_id, "en" if n % 2 else "nl", body))
    return out[:limit] if limit else out


def card_signature(response_json: dict) -> list[tuple[str, str, str]]:
    """What must not differ between two answers to the same request: rule id, indicator and summary per card."""
    return [(c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in response_json["cards"]]


def post_json(session: requests.Session, url: str, body: Any, language: str = "nl", timeout: float = 60) -> requests.Response:
    return session.post(url, data=json.dumps(body), timeout=timeout,
                        headers={"Content-Type": "application/json", "Accept-Language": language})


def iter_lines(text: str) -> Iterator[dict]:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue
