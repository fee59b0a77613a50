"""Build a conformant CDS Hooks 2.0 request: patient-view, order-select or order-sign.

Fields as the spec names them: a fresh ``hookInstance`` (UUID) per call,
``fhirServer``, ``context`` with ``userId`` (``Type/id``) and ``patientId``,
and for order hooks ``draftOrders`` (a Bundle) plus, for order-select,
``selections`` (``Type/id`` of the orders being chosen; every draft order when
none is named). Empty optional
fields are left out, never sent as ``null``/``[]``/``{}``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

HOOKS = ("patient-view", "order-select", "order-sign")
ORDER_HOOKS = ("order-select", "order-sign")
DEFAULT_USER = "Practitioner/ehr-sandbox"


class RequestError(ValueError):
    """The hook request cannot be built from what was given (message says what to fix)."""


def draft_orders_bundle(resources: Iterable[Mapping[str, Any]]) -> dict:
    """A ``collection`` Bundle of draft orders; each order needs a ``resourceType`` and an ``id``."""
    entries = []
    for resource in resources:
        if not isinstance(resource, Mapping) or not resource.get("resourceType"):
            raise RequestError("a draft order is not a FHIR resource (no resourceType)")
        if not resource.get("id"):
            raise RequestError(f"draft {resource['resourceType']} has no id: selections need Type/id")
        entries.append({"resource": dict(resource)})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def read_draft_orders(paths: Sequence[str | Path]) -> list[dict]:
    """Orders from JSON files: one resource, a Bundle of orders, or a hook request (its ``context.draftOrders``)."""
    orders: list[dict] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RequestError(f"{path}: cannot read a JSON resource ({exc})") from None
        if isinstance(data, dict) and "hook" in data and isinstance(data.get("context"), dict):
            data = data["context"].get("draftOrders")
            if not isinstance(data, dict):
                raise RequestError(f"{path}: a hook request without context.draftOrders")
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            orders.extend(e["resource"] for e in data.get("entry") or () if isinstance(e.get("resource"), dict))
        elif isinstance(data, dict):
            orders.append(data)
        else:
            raise RequestError(f"{path}: not a FHIR resource")
    return orders


def resolve_selections(selections: Sequence[str], orders: Sequence[Mapping[str, Any]]) -> list[str]:
    """``Type/id`` for each selection (a bare id is looked up among the orders); default: every order."""
    refs = [f"{o['resourceType']}/{o['id']}" for o in orders]
    if not selections:
        return refs
    out = []
    for sel in selections:
        if sel in refs:
            out.append(sel)
            continue
        matches = [r for r in refs if r.split("/", 1)[1] == sel]
        if len(matches) != 1:
            raise RequestError(f"selection {sel!r} is not one of the draft orders ({', '.join(refs) or 'none'})")
        out.append(matches[0])
    return out


def build_request(
    hook: str,
    *,
    patient_id: str,
    fhir_server: str | None,
    user_id: str = DEFAULT_USER,
    encounter_id: str | None = None,
    draft_orders: Sequence[Mapping[str, Any]] = (),
    selections: Sequence[str] = (),
    prefetch: Mapping[str, Any] | None = None,
    new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> dict:
    """The JSON body of one hook call."""
    if hook not in HOOKS:
        raise RequestError(f"unknown hook {hook!r}; one of {', '.join(HOOKS)}")
    if "/" not in user_id:
        raise RequestError(f"userId must be Type/id (e.g. {DEFAULT_USER}), got {user_id!r}")
    context: dict[str, Any] = {"userId": user_id, "patientId": patient_id}
    if encounter_id:
        context["encounterId"] = encounter_id
    if hook in ORDER_HOOKS:
        if not draft_orders:
            raise RequestError(f"{hook} needs at least one draft order (--draft-order FILE)")
        context["draftOrders"] = draft_orders_bundle(draft_orders)
        if hook == "order-select":
            context["selections"] = resolve_selections(selections, draft_orders)
        elif selections:  # not an order-sign field; passed on when asked for (services ignore unknown fields)
            context["selections"] = resolve_selections(selections, draft_orders)
    elif selections or draft_orders:
        raise RequestError("draft orders and selections belong to order-select and order-sign")
    body: dict[str, Any] = {"hookInstance": new_uuid(), "hook": hook}
    if fhir_server:
        body["fhirServer"] = fhir_server
    body["context"] = context
    if prefetch:
        body["prefetch"] = dict(prefetch)
    return body
