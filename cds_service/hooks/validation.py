"""Validation of hook and feedback requests: only what the spec requires, with clear 400 messages.

Unknown fields are ignored (``extension`` and newer minor hook versions add
fields). Draft orders are not validated as FHIR: clients send half-filled
orders while the clinician is still choosing (see cds-hooks.md §8).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urlsplit

import orjson
from flask import Request

from cds_service.errors import BadRequest, UnsupportedMediaType
from cds_service.feedback_store import FeedbackItem
from cds_service.services import Service

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")

# Required context fields per hook (cds-hooks-library v1.0.1).
REQUIRED_CONTEXT: Mapping[str, tuple[str, ...]] = {
    "patient-view": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
    "order-sign": ("userId", "patientId", "draftOrders"),
}
FHIR_AUTHORIZATION_REQUIRED = ("access_token", "token_type", "scope", "subject")
OUTCOMES = ("accepted", "overridden")


def parse_json(data: bytes) -> Any:
    """JSON text → Python values; ``ValueError`` when it is not JSON.

    orjson reads a large prefetch several times faster than the standard library. A few bodies
    it refuses are accepted by the standard library (which Flask's ``get_json`` uses): NaN and
    Infinity, integers beyond 64 bits, UTF-16/32 text. Those are read by :func:`json.loads`, so
    exactly the same bodies are accepted as before.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def read_json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object: 415 when not JSON, 400 when malformed. Parsed once."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {request.mimetype or 'none'!r}"
        )
    try:
        body = parse_json(request.get_data())
    except ValueError:
        body = None
    if body is None:
        raise BadRequest("The body is not valid JSON")
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    return body


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def validate_hook_request(body: Mapping[str, Any], service: Service) -> None:
    """Raise :class:`BadRequest` naming the first problem of a hook request for ``service``."""
    hook = body.get("hook")
    if not _text(hook):
        raise BadRequest("hook is required", field="hook")
    if hook != service.hook:
        raise BadRequest(
            f"hook {hook!r} does not match service {service.id!r}, which answers {service.hook!r}",
            field="hook",
        )
    if not _text(body.get("hookInstance")):
        raise BadRequest("hookInstance is required (a UUID unique per call)", field="hookInstance")
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadRequest("context is required (a JSON object)", field="context")
    for name in REQUIRED_CONTEXT[service.hook]:
        value = context.get(name)
        if value is None or value == "" or value == [] or value == {}:
            raise BadRequest(f"context.{name} is required for {service.hook}", field=f"context.{name}")
    if not isinstance(context["userId"], str) or not REFERENCE.match(context["userId"]):
        raise BadRequest("context.userId must be a reference 'Type/id', e.g. 'Practitioner/123'",
                         field="context.userId")
    if not isinstance(context["patientId"], str) or not FHIR_ID.match(context["patientId"]):
        raise BadRequest("context.patientId must be a FHIR id (not 'Patient/id')", field="context.patientId")
    encounter = context.get("encounterId")
    if encounter is not None and (not isinstance(encounter, str) or not FHIR_ID.match(encounter)):
        raise BadRequest("context.encounterId must be a FHIR id", field="context.encounterId")
    if "selections" in REQUIRED_CONTEXT[service.hook]:
        selections = context["selections"]
        if not isinstance(selections, list) or not all(_text(s) for s in selections):
            raise BadRequest("context.selections must be a list of 'Type/id' strings", field="context.selections")
    if "draftOrders" in REQUIRED_CONTEXT[service.hook] and not isinstance(context["draftOrders"], dict):
        raise BadRequest("context.draftOrders must be a FHIR Bundle", field="context.draftOrders")

    fhir_server = body.get("fhirServer")
    if fhir_server is not None:
        try:
            parts = urlsplit(fhir_server) if isinstance(fhir_server, str) else None
        except ValueError:  # "http://[" and other unparsable URLs: a 400, never a 500
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest("fhirServer must be an absolute http(s) URL", field="fhirServer")
    auth = body.get("fhirAuthorization")
    if auth is not None:
        if fhir_server is None:
            raise BadRequest("fhirAuthorization is only allowed together with fhirServer", field="fhirAuthorization")
        if not isinstance(auth, dict):
            raise BadRequest("fhirAuthorization must be a JSON object", field="fhirAuthorization")
        for name in FHIR_AUTHORIZATION_REQUIRED:
            if not _text(auth.get(name)):
                raise BadRequest(f"fhirAuthorization.{name} is required", field=f"fhirAuthorization.{name}")
        if auth["token_type"].lower() != "bearer":
            raise BadRequest("fhirAuthorization.token_type must be 'Bearer'", field="fhirAuthorization.token_type")
        # expires_in is required by the spec but the reference sandbox omits it (sandbox#65): tolerated.
        expires = auth.get("expires_in")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
            raise BadRequest("fhirAuthorization.expires_in must be a number of seconds",
                             field="fhirAuthorization.expires_in")
    prefetch = body.get("prefetch")
    if prefetch is not None:
        if not isinstance(prefetch, dict):
            raise BadRequest("prefetch must be a JSON object", field="prefetch")
        for key, value in prefetch.items():
            if value is not None and not (isinstance(value, dict) and _text(value.get("resourceType"))):
                raise BadRequest(f"prefetch.{key} must be a FHIR resource, a Bundle or null", field=f"prefetch.{key}")


def _timestamp(value: Any, field: str) -> str:
    """RFC 3339 → a canonical UTC string, so the same moment written twice is one duplicate."""
    if not _text(value):
        raise BadRequest(f"{field} is required (RFC 3339 date-time)", field=field)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{field} is not an RFC 3339 date-time", field=field) from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{field} needs a time zone (RFC 3339, e.g. 2026-11-24T09:00:00Z)", field=field)
    return parsed.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_feedback(body: Mapping[str, Any]) -> list[FeedbackItem]:
    """Validate ``{"feedback": [...]}`` (CDS Hooks 2.0 §feedback) into :class:`FeedbackItem`s."""
    entries = body.get("feedback")
    if not isinstance(entries, list) or not entries:
        raise BadRequest("feedback must be a non-empty list", field="feedback")
    items = []
    for i, entry in enumerate(entries):
        where = f"feedback[{i}]"
        if not isinstance(entry, dict):
            raise BadRequest(f"{where} must be a JSON object", field=where)
        card = entry.get("card")
        if not _text(card):
            raise BadRequest(f"{where}.card is required (the card's uuid)", field=f"{where}.card")
        outcome = entry.get("outcome")
        if outcome not in OUTCOMES:
            raise BadRequest(f"{where}.outcome must be one of {OUTCOMES}", field=f"{where}.outcome")
        timestamp = _timestamp(entry.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
        accepted: tuple[str, ...] = ()
        raw_accepted = entry.get("acceptedSuggestions")
        if outcome == "accepted" or raw_accepted is not None:
            if not isinstance(raw_accepted, list) or not all(
                isinstance(s, dict) and _text(s.get("id")) for s in raw_accepted
            ):
                raise BadRequest(f"{where}.acceptedSuggestions must be a list of {{\"id\": suggestion uuid}}",
                                 field=f"{where}.acceptedSuggestions")
            accepted = tuple(s["id"] for s in raw_accepted)
        code = display = system = comment = None
        override = entry.get("overrideReason")
        if override is not None:
            if not isinstance(override, dict):
                raise BadRequest(f"{where}.overrideReason must be a JSON object", field=f"{where}.overrideReason")
            reason = override.get("reason")
            if reason is not None:
                # The sandbox may omit system/display (cds-hooks.md §8); the code is what the report counts.
                if not isinstance(reason, dict) or not _text(reason.get("code")):
                    raise BadRequest(f"{where}.overrideReason.reason must be a Coding with a code",
                                     field=f"{where}.overrideReason.reason")
                code = reason["code"]
                display = reason.get("display") if _text(reason.get("display")) else None
                system = reason.get("system") if _text(reason.get("system")) else None
            comment_value = override.get("userComment")
            if comment_value is not None and not isinstance(comment_value, str):
                raise BadRequest(f"{where}.overrideReason.userComment must be a string",
                                 field=f"{where}.overrideReason.userComment")
            comment = comment_value or None
        items.append(FeedbackItem(
            card=card, outcome=outcome, outcome_timestamp=timestamp, accepted_suggestions=accepted,
            override_code=code, override_display=display, override_system=system, user_comment=comment,
        ))
    return items
