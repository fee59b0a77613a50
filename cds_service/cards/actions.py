"""Suggestion actions: the FHIR resources a card proposes (create / update / delete).

Pathways describe actions in domain terms (:class:`ActionSpec`); this module
turns them into CDS Hooks actions using the order templates in
``mappings/order_templates.yaml`` (codes are data, reviewed with the rules).
Created resources are complete R4 resources (status, intent, subject,
requester, code) so an EHR can apply them as they are; an update carries the
whole draft with the changed fields; a delete names the draft by ``resourceId``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Callable, Mapping

from cds_service.pathways.model import ActionSpec, EvalContext
from cds_service.yaml_load import safe_load

LOCAL_FACTS_SYSTEM = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
ACTION_TYPES = ("create", "update", "delete")
PRIORITIES = ("routine", "urgent", "asap", "stat")


class OrderTemplateError(ValueError):
    """``mappings/order_templates.yaml`` is malformed (raised at startup)."""


@dataclass(frozen=True)
class OrderTemplates:
    entries: Mapping[str, Mapping[str, Any]]

    def display(self, kind: str, language: str) -> str:
        entry = self.entries.get(kind, {})
        names = entry.get("display", {})
        return names.get(language) or names.get("en") or kind


def load_order_templates(package: str = "cds_service.mappings") -> OrderTemplates:
    path = resources.files(package) / "order_templates.yaml"
    data = safe_load(path.read_text(encoding="utf-8")) or {}
    for kind, entry in data.items():
        if not isinstance(entry, dict) or entry.get("resourceType") not in ("ServiceRequest", "MedicationRequest"):
            raise OrderTemplateError(f"{kind}: resourceType must be ServiceRequest or MedicationRequest")
        if not isinstance(entry.get("code"), dict) or not entry["code"].get("coding"):
            raise OrderTemplateError(f"{kind}: code.coding is required")
        display = entry.get("display") or {}
        if not (display.get("nl") and display.get("en")):
            raise OrderTemplateError(f"{kind}: display needs nl and en")
    return OrderTemplates(entries=data)


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")


def _apply_request_params(resource: dict, params: Mapping[str, Any]) -> None:
    priority = params.get("priority")
    if priority is not None:
        if priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}")
        resource["priority"] = priority
    deadline = params.get("occurrence_before")
    if isinstance(deadline, datetime):
        resource.pop("occurrenceDateTime", None)
        resource.pop("occurrenceTiming", None)
        start = params.get("occurrence_after")
        period = {"end": _iso(deadline)}
        if isinstance(start, datetime):
            period["start"] = _iso(start)
        resource["occurrencePeriod"] = period
    note = params.get("note")
    if note:
        resource["note"] = [{"text": str(note)}]


def build_create(kind: str, params: Mapping[str, Any], ctx: EvalContext, templates: OrderTemplates,
                 language: str, new_id: Callable[[], str]) -> dict:
    """A complete new draft resource for a ``create`` action."""
    if kind not in templates.entries:
        raise OrderTemplateError(f"no order template {kind!r}")
    tpl = templates.entries[kind]
    rtype = tpl["resourceType"]
    resource: dict[str, Any] = {
        "resourceType": rtype,
        "id": new_id(),
        "status": "draft",
        "intent": tpl.get("intent", "order" if rtype == "MedicationRequest" else "proposal"),
    }
    if tpl.get("category"):
        resource["category"] = copy.deepcopy(tpl["category"])
    code = copy.deepcopy(tpl["code"])
    code["text"] = templates.display(kind, language)  # one language: the card's (issue 15)
    if rtype == "ServiceRequest":
        resource["code"] = code
    else:
        resource["medicationCodeableConcept"] = code
    if ctx.patient_id:
        resource["subject"] = {"reference": f"Patient/{ctx.patient_id}"}
    if ctx.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    if ctx.user_id:
        resource["requester"] = {"reference": ctx.user_id}
    if rtype == "ServiceRequest" and tpl.get("bodySite"):
        resource["bodySite"] = copy.deepcopy(tpl["bodySite"])
    reason = params.get("reason") or tpl.get("reasonCode")
    if reason:
        resource["reasonCode"] = copy.deepcopy(reason if isinstance(reason, list) else [reason])
    if rtype == "ServiceRequest":
        resource["authoredOn"] = _iso(ctx.now)
        _apply_request_params(resource, params)
    else:
        resource["authoredOn"] = _iso(ctx.now)
        dosage = params.get("dosage_text") or (tpl.get("dosage", {}) or {}).get(language)
        if dosage:
            resource["dosageInstruction"] = [{"text": str(dosage)}]
        note = params.get("note")
        if note:
            resource["note"] = [{"text": str(note)}]
    return resource


def _pruned(value: Any) -> Any:
    """``value`` without nulls, empty strings, lists and objects (invalid in FHIR JSON and on a card)."""
    if isinstance(value, dict):
        items = ((k, _pruned(v)) for k, v in value.items())
        return {k: v for k, v in items if v is not None and v != "" and v != [] and v != {}}
    if isinstance(value, list):
        items = (_pruned(v) for v in value)
        return [v for v in items if v is not None and v != "" and v != [] and v != {}]
    return value


def build_update(order_resource: Mapping[str, Any], params: Mapping[str, Any], patient_id: str | None = None) -> dict:
    """The whole draft resource with the changed fields, for an ``update`` action.

    Drafts come from the EHR as they are (half-filled ones included); empty parts are left out so
    the resource, and with it the card, stays valid. A draft order without a usable ``subject``,
    ``status`` or ``intent`` gets the hook's patient, ``draft`` and ``order``: what it is.
    """
    resource = _pruned(copy.deepcopy(dict(order_resource)))
    if patient_id and not isinstance(resource.get("subject"), Mapping):
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if not isinstance(resource.get("status"), str):
        resource["status"] = "draft"
    if not isinstance(resource.get("intent"), str):
        resource["intent"] = "order"
    _apply_request_params(resource, params)
    return resource
