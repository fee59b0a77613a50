"""Support for the real-world data tests: fixture patients sent the way EHRs send them.

A fixture patient (``fixtures/patients/*.json``) is turned into a hook request's ``prefetch`` (one
searchset Bundle per key, ``fullUrl`` on every entry, resources no key holds — BodyStructure,
Medication — as ``_include`` entries) and evaluated through the real :class:`PrefetchResolver` and
:class:`Engine`, as an HTTP call would be, without a FHIR server.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from cds_service.engine import Engine
from cds_service.fhir.client import FhirClient
from cds_service.fhir.prefetch import FhirServerPolicy, PrefetchResolver
from cds_service.hooks.invoke import evaluate_request
from cds_service.services import SERVICES_BY_ID

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
SCT = "http://snomed.info/sct"
LNC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CPT = "http://www.ama-assn.org/go/cpt"

KEY_OF = {
    "Patient": "patient", "Condition": "conditions", "Observation": "observations", "Procedure": "procedures",
    "ImagingStudy": "imagingStudies", "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements", "ServiceRequest": "serviceRequests", "Encounter": "encounters",
}
INCLUDED_IN = {"BodyStructure": "observations", "Medication": "medicationRequests"}


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine.load()


@lru_cache(maxsize=1)
def resolver() -> PrefetchResolver:
    return PrefetchResolver(FhirClient(), FhirServerPolicy())


def patient_resources(pid: str) -> list[dict]:
    """A fresh (deep) copy of a fixture patient's resources, in bundle order."""
    bundle = json.loads((ROOT / "patients" / f"{pid}.json").read_text(encoding="utf-8"))
    return [copy.deepcopy(e["resource"]) for e in bundle["entry"]]


def full_url(res: Mapping[str, Any]) -> str:
    return f"urn:uuid:{res['resourceType']}-{res.get('id')}"


def prefetch_of(resources: Iterable[Mapping[str, Any]], *, full_urls: Callable[[Mapping], str | None] = full_url
                ) -> dict[str, Any]:
    """Prefetch keys as an EHR fills them: a searchset Bundle per key (empty when nothing), the patient as a
    resource, other resource types as ``_include`` entries of the key that references them."""
    out: dict[str, Any] = {k: {"resourceType": "Bundle", "type": "searchset", "entry": []}
                           for k in KEY_OF.values() if k != "patient"}
    out["patient"] = None
    for res in resources:
        rtype = res["resourceType"]
        if rtype == "Patient":
            out["patient"] = res
            continue
        key = KEY_OF.get(rtype) or INCLUDED_IN.get(rtype, "observations")
        entry: dict[str, Any] = {"resource": res,
                                 "search": {"mode": "match" if rtype in KEY_OF else "include"}}
        url = full_urls(res)
        if url:
            entry["fullUrl"] = url
        out[key]["entry"].append(entry)
    return out


def request(service_id: str, prefetch: Mapping[str, Any], *, patient_id: str = "p",
            draft_orders: Any = None, selections: list[str] | None = None) -> dict:
    service = SERVICES_BY_ID[service_id]
    context: dict[str, Any] = {"userId": "Practitioner/dr", "patientId": patient_id}
    if service.hook in ("order-select", "order-sign"):
        context["draftOrders"] = draft_orders or {"resourceType": "Bundle", "type": "collection", "entry": []}
    if service.hook == "order-select":
        context["selections"] = selections if selections is not None else [
            f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in context["draftOrders"]["entry"]]
    return {"hook": service.hook, "hookInstance": "d4c1b1f0-6a55-4f2a-9a53-8f6a1d5f0c11", "context": context,
            "prefetch": {k: prefetch[k] for k in service.prefetch_keys if k in prefetch}}


def evaluate(service_id: str, resources: Iterable[Mapping[str, Any]] | None = None, *,
             prefetch: Mapping[str, Any] | None = None, now: datetime = NOW, language: str = "en",
             **kw: Any):
    """The :class:`Evaluation` of one hook request built from ``resources`` (or a ready ``prefetch``)."""
    if prefetch is None:
        prefetch = prefetch_of(resources or ())
    body = request(service_id, prefetch, **kw)
    return evaluate_request(engine(), resolver(), SERVICES_BY_ID[service_id], body, now=now, language=language)


def rule_ids(service_id: str, resources: Iterable[Mapping[str, Any]] | None = None, **kw: Any) -> set[str]:
    response = evaluate(service_id, resources, **kw).response
    return {card["source"]["topic"]["code"] for card in response["cards"]}


def cards(service_id: str, resources: Iterable[Mapping[str, Any]] | None = None, **kw: Any) -> list[dict]:
    return evaluate(service_id, resources, **kw).response["cards"]


def find(resources: list[dict], rtype: str, code: str) -> dict:
    """The first resource of ``rtype`` with ``code`` in its code (or a component code)."""
    for res in resources:
        if res["resourceType"] != rtype:
            continue
        codes = {c.get("code") for c in res.get("code", {}).get("coding", [])}
        if code in codes:
            return res
    raise LookupError(f"no {rtype} with code {code}")


def without(resources: list[dict], rtype: str, code: str) -> list[dict]:
    target = find(resources, rtype, code)
    return [r for r in resources if r is not target]
