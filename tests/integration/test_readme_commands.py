"""The "Five-minute local demo" of the README, run as written.

Its ``cds-service load-fixtures`` and ``cds-service sandbox`` lines are taken
from the document and run against a fresh FHIR server (ports swapped for free
ones) and the real service configured as ``cds-service serve`` configures it
(demo FHIR on, no allow-list, the real clock). The fixtures are loaded with
their dates shifted to now, so the cards must be those the cases expect at
FIXTURE_NOW.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from cds_service.cli import build_cli
from cds_service.config import Config
from cds_service.ehr.fixtures import case_patient_id, read_cases
from cds_service.services import SERVICES
from live_servers import REPO, LiveServer, NodeFhirServer

pytestmark = pytest.mark.integration

DOC = REPO / "README.md"
DOC_FHIR = "http://127.0.0.1:8090/fhir"
DOC_SERVICE = "http://127.0.0.1:8080"
KNOWN_COMMANDS = (
    "python -m venv .venv",
    ". .venv/bin/activate",
    "pip install -e .",
    "npm ci --prefix integration/fhir-server",
    "node integration/fhir-server/server.mjs --port 8090",
    "cds-service serve",
    "cds-service load-fixtures ",
    "cds-service sandbox ",
)


def demo_commands() -> list[str]:
    """The shell lines of the demo section's code blocks (``&&`` chains split)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Five-minute local demo", 1)[1].split("\n## ", 1)[0]
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line:
                lines.extend(part.strip() for part in line.split("&&"))
    return lines


COMMANDS = demo_commands()


def test_the_demo_uses_only_known_commands() -> None:
    unknown = [c for c in COMMANDS if not c.startswith(KNOWN_COMMANDS)]
    assert not unknown, f"the README demo has commands this test does not run or check: {unknown}"
    assert (REPO / "integration" / "fhir-server" / "server.mjs").is_file()
    assert any(c.startswith("cds-service load-fixtures") for c in COMMANDS)
    assert sum(c.startswith("cds-service sandbox") for c in COMMANDS) >= 3


def _expected_rules(args: list[str]) -> set[str]:
    """The rule ids the fixture cases expect for this patient and the services the command calls."""
    patient = args[args.index("--patient") + 1]
    hook = args[args.index("--hook") + 1] if "--hook" in args else "patient-view"
    named = [args[i + 1] for i, a in enumerate(args) if a == "--service"]
    services = set(named) or {s.id for s in SERVICES if s.hook == hook}
    return {rule for case in read_cases() if case_patient_id(case) == patient and not case.get("now")
            for sid, rules in (case.get("expect") or {}).items() if sid in services for rule in rules}


@pytest.fixture(scope="module")
def demo(cds, tmp_path_factory):
    """A fresh FHIR server and the service as `cds-service serve` runs it."""
    from cds_service.app import create_app

    fhir = NodeFhirServer()
    config = Config(demo_fhir=True, database=str(tmp_path_factory.mktemp("demo") / "feedback.sqlite3"))
    service = LiveServer(create_app(config, engine=cds.app.extensions["cds"].engine))
    yield fhir, service
    service.stop()
    fhir.stop()


def _run(line: str, fhir: NodeFhirServer, service: LiveServer) -> tuple[list[str], str]:
    line = line.replace(DOC_FHIR, fhir.base).replace(DOC_SERVICE, service.url)
    args = shlex.split(line)[1:]  # without "cds-service"
    if args[0] == "sandbox" and "--service-url" not in args:
        args += ["--service-url", service.url]
    result = CliRunner().invoke(build_cli(), args, catch_exceptions=False)
    assert result.exit_code == 0, f"{line}\n{result.output}"
    return args, result.output


def test_five_minute_demo(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    fhir, service = demo
    monkeypatch.chdir(REPO)
    ran = 0
    for line in COMMANDS:
        if not line.startswith(("cds-service load-fixtures", "cds-service sandbox")):
            continue
        args, output = _run(line, fhir, service)
        ran += 1
        if args[0] == "load-fixtures":
            assert "patients," in output and "(transactions; dates moved by" in output
            continue
        expected = _expected_rules(args)
        if "--json" in args:
            body = json.loads(output)
            answers = [body] if "cards" in body else list(body.values())
            shown = {card["source"]["topic"]["code"] for answer in answers for card in answer["cards"]}
        else:
            shown = set(re.findall(r"\[([A-Z][A-Z0-9-]+)\]", output))
        assert expected <= shown, f"{line}: expected {sorted(expected)}, shown {sorted(shown)}"
    assert ran == sum(c.startswith(("cds-service load-fixtures", "cds-service sandbox")) for c in COMMANDS)


def test_sandbox_with_jwt_against_a_service_that_requires_it(demo, cds, tmp_path: Path) -> None:
    """`sandbox --jwt` plus the two settings it prints: the service accepts its calls, and refuses unsigned ones."""
    from cds_service.app import create_app

    fhir, _ = demo
    key = tmp_path / "ehr-key.pem"
    issuer = "https://ehr-sandbox.neuro-onc-cds.example.org"
    jwks = tmp_path / "ehr-key-jwks.json"
    from cds_service.ehr.signing import EhrKey, write_jwks

    write_jwks(EhrKey.load_or_create(key), jwks)
    config = Config(demo_fhir=True, jwt_required=True, trusted_issuers={issuer: (f"file:{jwks}",)},
                    database=str(tmp_path / "feedback.sqlite3"))
    secured = LiveServer(create_app(config, engine=cds.app.extensions["cds"].engine))
    try:
        base = ["sandbox", "--fhir-server", f"{secured.url}/demo/fhir", "--patient", "lm-suspect-breast",
                "--service-url", secured.url, "--service", "leptomeningeal-metastases"]
        signed = CliRunner().invoke(build_cli(), base + ["--jwt", "--jwt-key", str(key)])
        assert signed.exit_code == 0, signed.output
        assert f"file:{jwks}" in signed.output
        unsigned = CliRunner().invoke(build_cli(), base)
        assert unsigned.exit_code == 1
        assert "HTTP 401" in unsigned.output
    finally:
        secured.stop()


# -- the README's production command, from the repository root -----------------------------------

def production_command() -> list[str]:
    """The gunicorn line of the README's "Production (gunicorn)" section, as an argument list."""
    section = DOC.read_text(encoding="utf-8").split("## Production (gunicorn)", 1)[1].split("\n## ", 1)[0]
    [line] = [line for block in re.findall(r"```sh\n(.*?)```", section, re.S) for line in block.splitlines()
              if line.startswith("gunicorn ")]
    return shlex.split(line)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(args: list[str], env: dict[str, str]):
    """Start gunicorn (the one installed beside this Python) from the repository root."""
    import os
    import subprocess
    import sys

    gunicorn = Path(sys.executable).with_name("gunicorn")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CDS_") and k != "PYTHONPATH"}
    return subprocess.Popen([str(gunicorn), *args], cwd=REPO, env={**clean, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_the_production_command_runs_from_the_repository_root(loaded_fhir, tmp_path: Path) -> None:
    """`gunicorn … cds_service.wsgi:app` from the root of the checkout (port and workers made small),
    with the README's settings and a JWT from `cds-service token`: discovery and a hook call work."""
    import time

    import requests

    args = production_command()
    assert args[0] == "gunicorn" and args[-1] == "cds_service.wsgi:app"
    port = _free_port()
    args = [a.replace("0.0.0.0:8080", f"127.0.0.1:{port}") for a in args[1:]]
    args[args.index("-w") + 1] = "2"
    key, issuer = tmp_path / "ehr-key.pem", "https://ehr.example.org"
    base = f"http://127.0.0.1:{port}"

    def token(*extra: str) -> str:
        result = CliRunner().invoke(build_cli(), ["token", "-q", "--jwt-issuer", issuer, "--jwt-key", str(key),
                                                  "--service-url", base, *extra])
        assert result.exit_code == 0, result.output
        return result.output.strip()

    token()  # creates the key and its JWKS
    env = {"CDS_ALLOWED_FHIR_SERVERS": loaded_fhir.base, "CDS_DATABASE": str(tmp_path / "feedback.sqlite3"),
           "CDS_TRUSTED_ISSUERS": json.dumps({issuer: f"file:{tmp_path / 'ehr-key-jwks.json'}"}),
           "CDS_FIXED_NOW": "2026-11-24T09:00:00Z", "CDS_PUBLIC_BASE_URL": base}
    proc = _gunicorn(args, env)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate(timeout=10)[1][-3000:]
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or the workers are still booting
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 90 s"
            time.sleep(0.3)
        assert requests.get(f"{base}/cds-services", timeout=30).status_code == 401  # production: JWT required
        discovery = requests.get(f"{base}/cds-services", timeout=30,
                                 headers={"Authorization": f"Bearer {token()}"})
        assert discovery.status_code == 200
        body = {"hook": "patient-view", "hookInstance": "6b1bd6a4-4f3c-4b8e-9a55-ef0000000001",
                "fhirServer": loaded_fhir.base,
                "context": {"userId": "Practitioner/ehr-sandbox", "patientId": "lm-suspect-breast"}}
        answer = requests.post(f"{base}/cds-services/leptomeningeal-metastases", json=body, timeout=60,
                               headers={"Authorization": f"Bearer {token('--service', 'leptomeningeal-metastases')}"})
        assert answer.status_code == 200, answer.text[:500]
        assert answer.headers["Content-Language"] == "nl"
        assert "LM-SUSPECT" in {card["source"]["topic"]["code"] for card in answer.json()["cards"]}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_a_configuration_error_under_gunicorn_is_one_line(tmp_path: Path) -> None:
    args = production_command()[1:]
    args = [a.replace("0.0.0.0:8080", f"127.0.0.1:{_free_port()}") for a in args]
    args[args.index("-w") + 1] = "1"
    proc = _gunicorn(args, {"CDS_DATABASE": str(tmp_path / "feedback.sqlite3")})
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 4  # gunicorn's "App failed to load": the master stops, no restart loop
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if "neuro-onc-cds" in line]
    assert line.startswith("neuro-onc-cds: cannot start: CDS_ALLOWED_FHIR_SERVERS must be set in production")
