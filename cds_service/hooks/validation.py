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

from cds_service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from cds_service.feedback_store import FeedbackItem
from cds_service.services import Service

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# hookInstance is a UUID by the spec; anything token-like up to 100 characters is accepted (some EHRs
# send other unique ids), but nothing that could carry free text into the logs.
HOOK_INSTANCE = re.compile(r"^[A-Za-z0-9._:~\-]{1,100}$")
REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")

# Required context fields per hook (cds-hooks-library v1.0.1).
REQUIRED_CONTEXT: Mapping[str, tuple[str, ...]] = {
    "patient-view": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
    "order-sign": ("userId", "patientId", "draftOrders"),
}
FHIR_AUTHORIZATION_REQUIRED = ("access_token", "token_type", "scope", "subject")
OUTCOMES = ("accepted", "overridden")

# Bounded work per call (issue #16, item 8). A JSON document nested deeper than the parser allows
# (orjson: 1,024 levels) is refused as a whole; the parts of a request that are walked or copied into
# answers (context, feedback) are held to a much lower depth, far above any real FHIR resource.
MAX_CONTEXT_DEPTH = 64
MAX_FEEDBACK_ITEMS = 100
MAX_SUGGESTIONS = 50
MAX_ID_CHARS = 128  # card and suggestion uuids (36 characters), override codes
MAX_TEXT_CHARS = 1_000  # override display, system
MAX_COMMENT_CHARS = 4_000  # a clinician's free-text comment
MAX_FHIR_SERVER_CHARS = 2_048


def parse_json(data: bytes) -> Any:
    """JSON text → Python values; ``ValueError`` when it is not JSON.

    orjson reads a large prefetch several times faster than the standard library. A few bodies
    it refuses are accepted by the standard library (which Flask's ``get_json`` uses): NaN and
    Infinity, integers beyond 64 bits, UTF-16/32 text. Those are read by :func:`json.loads`, so
    exactly the same bodies are accepted as before.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise JsonTooDeep() from None
    try:
        return json.loads(data)
    except RecursionError:  # the standard library's parser recurses: never let that be a 500
        raise JsonTooDeep() from None


class JsonTooDeep(ValueError):
    """The JSON text nests deeper than the parser's limit."""


def nesting_within(value: Any, limit: int) -> bool:
    """True when ``value`` nests at most ``limit`` objects/arrays deep (iterative: no recursion)."""
    if type(value) is not dict and type(value) is not list:
        return True
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > limit:
            return False
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                push((child, depth + 1))
    return True


def check_text(value: str, field: str, max_chars: int) -> str:
    """A client string that can be stored and logged safely: bounded, valid Unicode, no NUL."""
    if len(value) > max_chars:
        raise BadRequest(f"{field} is longer than {max_chars} characters", field=field)
    if "\x00" in value:
        raise BadRequest(f"{field} contains a NUL character", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800) is valid JSON but not storable text
        raise BadRequest(f"{field} is not valid Unicode text (lone surrogate)", field=field) from None
    return value


def read_body(request: Request) -> bytes:
    """The raw body, at most ``MAX_CONTENT_LENGTH`` bytes: 413 above it.

    werkzeug refuses a too-large ``Content-Length`` itself, but a chunked body (no length) is only
    cut off at the limit; one more byte in the stream means the body was too large.
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(data) >= limit and request.content_length is None:
        if request.environ["wsgi.input"].read(1):
            raise PayloadTooLarge(f"The body is larger than {limit} bytes")
    return data


def read_json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object: 415 when not JSON, 400 when malformed. Parsed once."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {request.mimetype or 'none'!r}"
        )
    try:
        body = parse_json(read_body(request))
    except JsonTooDeep:
        raise BadRequest("The JSON body is nested too deeply") from None
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
    hook_instance = body.get("hookInstance")
    if not _text(hook_instance):
        raise BadRequest("hookInstance is required (a UUID unique per call)", field="hookInstance")
    if not HOOK_INSTANCE.match(hook_instance):
        raise BadRequest("hookInstance must be a UUID (at most 100 letters, digits, '-', '.', ':')",
                         field="hookInstance")
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadRequest("context is required (a JSON object)", field="context")
    if not nesting_within(context, MAX_CONTEXT_DEPTH):
        raise BadRequest(f"context nests deeper than {MAX_CONTEXT_DEPTH} levels", field="context")
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
        if not isinstance(selections, list) or not all(_text(s) and len(s) <= 200 for s in selections):
            raise BadRequest("context.selections must be a list of 'Type/id' strings", field="context.selections")
    if "draftOrders" in REQUIRED_CONTEXT[service.hook] and not isinstance(context["draftOrders"], dict):
        raise BadRequest("context.draftOrders must be a FHIR Bundle", field="context.draftOrders")

    fhir_server = body.get("fhirServer")
    if fhir_server is not None:
        parts = None
        if isinstance(fhir_server, str) and len(fhir_server) <= MAX_FHIR_SERVER_CHARS:
            try:
                parts = urlsplit(fhir_server)
                host = parts.hostname
            except ValueError:  # "http://[" and other unparseable URLs
                parts = None
        if parts is None or parts.scheme not in ("http", "https") or not host:
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
            check_text(auth[name], f"fhirAuthorization.{name}", 16_384)
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
    check_text(value, field, 64)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{field} is not an RFC 3339 date-time", field=field) from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{field} needs a time zone (RFC 3339, e.g. 2026-11-24T09:00:00Z)", field=field)
    try:
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise BadRequest(f"{field} is out of range", field=field) from None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _optional_text(value: Any, field: str, max_chars: int) -> str | None:
    return check_text(value, field, max_chars) if _text(value) else None


def parse_feedback(body: Mapping[str, Any]) -> list[FeedbackItem]:
    """Validate ``{"feedback": [...]}`` (CDS Hooks 2.0 §feedback) into :class:`FeedbackItem`s.

    Bounded: at most :data:`MAX_FEEDBACK_ITEMS` items per post and every string capped, so one
    post is a few kilobytes of work; strings must be storable text (no NUL, no lone surrogate).
    """
    entries = body.get("feedback")
    if not isinstance(entries, list) or not entries:
        raise BadRequest("feedback must be a non-empty list", field="feedback")
    if len(entries) > MAX_FEEDBACK_ITEMS:
        raise BadRequest(f"feedback has {len(entries)} items; at most {MAX_FEEDBACK_ITEMS} per request",
                         field="feedback")
    if not nesting_within(entries, MAX_CONTEXT_DEPTH):
        raise BadRequest(f"feedback nests deeper than {MAX_CONTEXT_DEPTH} levels", field="feedback")
    items = []
    for i, entry in enumerate(entries):
        where = f"feedback[{i}]"
        if not isinstance(entry, dict):
            raise BadRequest(f"{where} must be a JSON object", field=where)
        card = entry.get("card")
        if not _text(card):
            raise BadRequest(f"{where}.card is required (the card's uuid)", field=f"{where}.card")
        check_text(card, f"{where}.card", MAX_ID_CHARS)
        outcome = entry.get("outcome")
        if outcome not in OUTCOMES:
            raise BadRequest(f"{where}.outcome must be one of {OUTCOMES}", field=f"{where}.outcome")
        timestamp = _timestamp(entry.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
        accepted: tuple[str, ...] = ()
        raw_accepted = entry.get("acceptedSuggestions")
        if outcome == "accepted" or raw_accepted is not None:
            field = f"{where}.acceptedSuggestions"
            if not isinstance(raw_accepted, list) or not all(
                isinstance(s, dict) and _text(s.get("id")) for s in raw_accepted
            ):
                raise BadRequest(f"{field} must be a list of {{\"id\": suggestion uuid}}", field=field)
            if len(raw_accepted) > MAX_SUGGESTIONS:
                raise BadRequest(f"{field} has more than {MAX_SUGGESTIONS} items", field=field)
            accepted = tuple(check_text(s["id"], field, MAX_ID_CHARS) for s in raw_accepted)
        code = display = system = comment = None
        override = entry.get("overrideReason")
        if override is not None:
            if not isinstance(override, dict):
                raise BadRequest(f"{where}.overrideReason must be a JSON object", field=f"{where}.overrideReason")
            reason = override.get("reason")
            if reason is not None:
                field = f"{where}.overrideReason.reason"
                # The sandbox may omit system/display (cds-hooks.md §8); the code is what the report counts.
                if not isinstance(reason, dict) or not _text(reason.get("code")):
                    raise BadRequest(f"{field} must be a Coding with a code", field=field)
                code = check_text(reason["code"], f"{field}.code", MAX_ID_CHARS)
                display = _optional_text(reason.get("display"), f"{field}.display", MAX_TEXT_CHARS)
                system = _optional_text(reason.get("system"), f"{field}.system", MAX_TEXT_CHARS)
            comment_value = override.get("userComment")
            field = f"{where}.overrideReason.userComment"
            if comment_value is not None and not isinstance(comment_value, str):
                raise BadRequest(f"{field} must be a string", field=field)
            comment = check_text(comment_value, field, MAX_COMMENT_CHARS) if comment_value else None
        items.append(FeedbackItem(
            card=card, outcome=outcome, outcome_timestamp=timestamp, accepted_suggestions=accepted,
            override_code=code, override_display=display, override_system=system, user_comment=comment,
        ))
    return items
