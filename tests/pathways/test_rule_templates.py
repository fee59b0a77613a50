"""Rules and card templates match one to one (issue 5: no rule without a template in both languages, no
template without a rule). The rule set is the union of ``RULES`` of every pathway module a service uses,
plus the shared ``DATA-MISSING``."""

from __future__ import annotations

import importlib

import pytest

from cds_service.cards.templates import LANGUAGES, load_templates
from cds_service.pathways import common
from cds_service.services import SERVICES

TEMPLATES = load_templates()


def _modules() -> list[str]:
    return sorted({path.partition(":")[0] for service in SERVICES for path in service.pathways})


def _rules() -> dict[str, str]:
    """rule id → the module that declares it."""
    declared = {rule: "cds_service.pathways.common" for rule in common.RULES}
    for name in _modules():
        for rule in importlib.import_module(name).RULES:
            declared.setdefault(rule, name)
    return declared


def test_every_pathway_module_declares_rules():
    for name in _modules():
        rules = getattr(importlib.import_module(name), "RULES", None)
        assert isinstance(rules, tuple) and rules, name


def test_every_rule_has_a_template():
    missing = sorted(rule for rule in _rules() if rule not in TEMPLATES)
    assert missing == []


def test_every_template_has_a_rule():
    orphans = sorted(rule for rule in TEMPLATES.templates if rule not in _rules())
    assert orphans == []


@pytest.mark.parametrize("rule_id", sorted(TEMPLATES.templates))
def test_template_has_both_languages(rule_id):
    template = TEMPLATES[rule_id]
    for language in LANGUAGES:
        text = template.texts[language]
        assert text["summary"].strip() and text["detail"].strip()
        assert template.source[language].strip()


def test_brain_rules_are_all_templated():
    from cds_service.pathways import brain

    assert set(brain.RULES) <= set(TEMPLATES.templates)
    assert {t.rule_id for t in TEMPLATES.templates.values() if t.area == "brain"} == set(brain.RULES) - {"DATA-MISSING"}
