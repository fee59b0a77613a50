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
