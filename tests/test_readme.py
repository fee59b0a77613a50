"""The README stays true: its rule table is the one the code generates, and it names the test command CI runs."""

from __future__ import annotations

from pathlib import Path

from cds_service.cli import rules_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_rule_table_matches_the_code_and_templates():
    start, end = "<!-- rules:start -->\n", "<!-- rules:end -->"
    table = README.split(start, 1)[1].split(end, 1)[0].strip()
    assert table == rules_markdown().strip(), "run: python tools/update_readme_rules.py"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in README
    assert "make test" in ci


def test_every_service_is_documented():
    from cds_service.services import SERVICES

    for service in SERVICES:
        assert f"`{service.id}`" in README


def _command_table() -> dict[str, str]:
    """Command name → its row in the README's command table (under "Run it")."""
    section = README.split("## Run it", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `cds-service ")]
    return {row.split("`cds-service ", 1)[1].split()[0].rstrip("`"): row for row in rows}


def test_the_command_table_names_every_command_and_option():
    from cds_service.cli import build_cli

    table = _command_table()
    group = build_cli()
    missing = []
    for name, command in group.commands.items():
        row = table.get(name)
        if row is None:
            missing.append(name)
            continue
        for param in command.params:
            for opt in (*param.opts, *param.secondary_opts):
                if opt.startswith("--") and opt != "--help" and opt not in row:
                    missing.append(f"{name} {opt}")
    assert missing == [], f"add to the README's command table: {missing}"


def test_make_run_host_and_port_are_documented():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "HOST ?= 127.0.0.1" in makefile and "PORT ?= 8080" in makefile
    assert "make run PORT=9000" in README and "HOST=0.0.0.0" in README


def test_one_node_version_everywhere():
    import json
    import re

    engines = json.loads((ROOT / "integration" / "fhir-server" / "package.json").read_text())["engines"]["node"]
    wanted = engines.removeprefix(">=")
    versions = set(re.findall(r"Node(?:\.js)? ≥ ([0-9.]+)", README))
    assert versions == {wanted}, f"README names Node {versions}, package.json {engines}"


def test_request_files_do_not_name_a_port_for_the_service_to_fetch_from():
    """A request without prefetch needs the running service's fhirServer: no file may hard-code it."""
    import json

    for path in sorted((ROOT / "fixtures" / "requests").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        assert "fhirServer" not in body, f"{path.name} names a fhirServer"
        assert body.get("prefetch"), f"{path.name} must prefetch everything"
