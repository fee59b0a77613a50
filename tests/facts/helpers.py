"""Shared helpers for the facts tests: one compiled extractor, a fixed ``now``, resource makers."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from cds_service.facts.extract import FactExtractor
from cds_service.facts.model import Facts


def _load_fixture_builder() -> ModuleType:
    """``fixtures/gen/builder.py`` by path: it is a development tool, not part of the installed package."""
    path = Path(__file__).resolve().parents[2] / "fixtures" / "gen" / "builder.py"
    spec = importlib.util.spec_from_file_location("fixture_builder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_builder = _load_fixture_builder()
# re-exported for the tests
ATC = _builder.ATC
DCM = _builder.DCM
HGNC = _builder.HGNC
ICD10 = _builder.ICD10
ICD10CM = _builder.ICD10CM
LNC = _builder.LNC
LOCAL = _builder.LOCAL
SCT = _builder.SCT
UCUM = _builder.UCUM
PatientBuilder = _builder.PatientBuilder
coding = _builder.coding
concept = _builder.concept

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
PID = "t1"
SUBJECT = {"reference": f"Patient/{PID}"}


@lru_cache(maxsize=1)
def extractor() -> FactExtractor:
    return FactExtractor.load(strict=True)


def ago(days: float = 0, hours: float = 0) -> str:
    return (NOW - timedelta(days=days, hours=hours)).isoformat()


def extract(*resources: Any, unavailable: Iterable[str] = (), now: datetime = NOW) -> Facts:
    return extractor().extract(list(resources), now=now, unavailable_sources=frozenset(unavailable))


def obs(code: tuple, value: dict | None = None, *, days: float = 1, status: str = "final", rid: str | None = None,
        **extra: Any) -> dict:
    res: dict[str, Any] = {"resourceType": "Observation", "id": rid or f"o{abs(hash((code, days, str(value)))) % 10**8}",
                           "status": status, "subject": SUBJECT, "code": concept(code),
                           "effectiveDateTime": ago(days)}
    res.update(value or {})
    res.update(extra)
    return res


def cond(code: tuple, *, days: float = 10, clinical: str | None = "active", verification: str | None = "confirmed",
         rid: str | None = None, **extra: Any) -> dict:
    res: dict[str, Any] = {"resourceType": "Condition", "id": rid or f"c{abs(hash((code, days))) % 10**8}",
                           "subject": SUBJECT, "code": concept(code), "onsetDateTime": ago(days)}
    if clinical:
        res["clinicalStatus"] = concept(("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical))
    if verification:
        res["verificationStatus"] = concept(("http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                             verification))
    res.update(extra)
    return res


def proc(code: tuple, *, days: float = 10, status: str = "completed", rid: str | None = None, **extra: Any) -> dict:
    res = {"resourceType": "Procedure", "id": rid or f"p{abs(hash((code, days))) % 10**8}", "status": status,
           "subject": SUBJECT, "code": concept(code), "performedDateTime": ago(days)}
    res.update(extra)
    return res


def med(code: tuple, *, status: str = "active", days: float = 5, rtype: str = "MedicationRequest",
        rid: str | None = None, **extra: Any) -> dict:
    res: dict[str, Any] = {"resourceType": rtype, "id": rid or f"m{abs(hash((code, days, status))) % 10**8}",
                           "status": status, "subject": SUBJECT, "medicationCodeableConcept": concept(code)}
    if rtype == "MedicationRequest":
        res["intent"] = "order"
        res["authoredOn"] = ago(days)
    else:
        res["effectivePeriod"] = {"start": ago(days)}
    res.update(extra)
    return res


def quantity(value: Any, unit: str | None) -> dict:
    q: dict[str, Any] = {"value": value}
    if unit is not None:
        q.update({"unit": unit, "system": UCUM, "code": unit})
    return {"valueQuantity": q}


def local(code: str) -> tuple[str, str]:
    return (LOCAL, code)


def patient(birth_date: Any = "1960-05-01") -> dict:
    return {"resourceType": "Patient", "id": PID, "birthDate": birth_date}
