"""Every card the fixture cases produce, in Dutch and English (shared by the card tests and tools/card_lengths.py).

One evaluation per (case, expected service, language) over ``fixtures/cases/*.yaml``, at the case's ``now``,
through the real engine: the same cards a clinician would see for the fixture patients.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
DEFAULT_NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
USER = "Practitioner/fixture-clinician"
LANGUAGES = ("nl", "en")


def load_cases() -> list[dict]:
    cases = []
    for path in sorted((ROOT / "cases").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            cases.append(dict(case))
    return cases


@lru_cache(maxsize=1)
def engine():
    from cds_service.engine import Engine

    return Engine.load()


def _resources(pid: str) -> tuple[dict, ...]:
    bundle = json.loads((ROOT / "patients" / f"{pid}.json").read_text(encoding="utf-8"))
    return tuple(e["resource"] for e in bundle.get("entry", []))


def _now(case: Mapping[str, Any]) -> datetime:
    from cds_service.fhir.parse import parse_datetime

    raw = case.get("now")
    return DEFAULT_NOW if raw is None else parse_datetime(raw)


@lru_cache(maxsize=1)
def evaluations() -> tuple[tuple[str, str, str, Any], ...]:
    """(case id, service id, language, Evaluation) for every case, expected service and language."""
    from cds_service.ehr.fixtures import case_context
    from cds_service.engine import PatientData
    from cds_service.services import SERVICES_BY_ID

    out = []
    for case in load_cases():
        pid = case.get("patient", case["id"])
        data = PatientData(resources=_resources(pid), unavailable=frozenset(case.get("unavailable") or ()))
        for service_id in sorted(case.get("expect") or {}):
            service = SERVICES_BY_ID[service_id]
            for language in LANGUAGES:
                context = case_context(case, service.hook, user_id=USER)
                evaluation = engine().evaluate(service, context, data, now=_now(case), language=language)
                out.append((case["id"], service_id, language, evaluation))
    return tuple(out)


def render_all() -> list[dict]:
    """Every rendered card as a flat record: case, service, language, rule, card fields."""
    cards = []
    for case_id, service_id, language, evaluation in evaluations():
        for card in evaluation.response["cards"]:
            cards.append({
                "case": case_id, "service": service_id, "language": language,
                "rule": card["source"]["topic"]["code"], "summary": card["summary"], "detail": card["detail"],
                "card": card,
            })
    return cards
