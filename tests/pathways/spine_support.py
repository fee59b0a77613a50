"""What the spine pathway tests share: a fixed clock, presentations with their timing, fact builders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from cds_service.facts.model import Fact, Facts
from cds_service.pathways.model import EvalContext

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
CTX = EvalContext(now=NOW)


def ago(hours: float = 0, days: float = 0) -> datetime:
    return NOW - timedelta(hours=hours, days=days)


def at(value: Any, onset: datetime | None = None, recorded: datetime | None = None, **attrs: Any) -> tuple:
    """A presentation value with its timing attrs (onset selects the table row, recorded starts the clock)."""
    extra = {k: v for k, v in (("onset", onset), ("recorded", recorded)) if v is not None}
    return value, {**extra, **attrs}


OLD = dict(onset=ago(days=30), recorded=ago(days=20))  # complaints that predate the spine imaging

BASE: dict[str, Any] = {
    # established, asymptomatic spinal metastases with every 004/003 question answered
    "spinal_metastases": True,
    "treatment_wish": True,
    "expected_survival_months": 9.0,
    "primary_tumour": "breast",
    "mescc": "none",
    "sins_total": 3,
    "sre_risk": False,
    "neuro_deficit_expected_soon": False,
    "dexamethasone_active": False,
    "radiosensitive_tumour": False,
    "oligometastases": False,
    "patient_condition": "good",
    "definitive_diagnosis_date": ago(days=10),
    "spine_imaging_date": ago(days=12),
    "adequate_spine_imaging": True,
}


def facts_of(base: Mapping[str, Any], **values: Any) -> Facts:
    """Known facts from ``base`` overridden by ``values``; ``None`` = unknown, ``(value, attrs)`` = with attrs."""
    out = {}
    for name, value in {**base, **values}.items():
        if value is None:
            continue
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
            out[name] = Fact.of(name, value[0], attrs=value[1])
        else:
            out[name] = Fact.of(name, value)
    return Facts(values=out, now=NOW)


def patient(**values: Any) -> Facts:
    """Established spinal metastases (``BASE``) plus ``values``."""
    return facts_of(BASE, **values)
