"""``POST /cds-services/{id}``: one hook call, one pass.

validate → resolve prefetch (fetching gaps from ``fhirServer``) → engine
(facts → pathways → cards, checked against the card rules) → record which rule
issued each card (off the hot path) → ``{"cards": [...]}``. The body is parsed
once and never copied; the engine, templates and mappings were built at startup.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Mapping

import orjson
from flask import Blueprint, Response, g, request

from cds_service.engine import Engine, Evaluation
from cds_service.errors import NotFound
from cds_service.feedback_store import issued_cards_of
from cds_service.fhir.prefetch import PrefetchResolver
from cds_service.hooks.guard import require_jwt
from cds_service.hooks.state import get_state
from cds_service.hooks.validation import HOOK_INSTANCE, read_json_body, validate_hook_request
from cds_service.services import SERVICES_BY_ID, Service
from cds_service.smart.links import add_smart_links

bp = Blueprint("invoke", __name__)


def find_service(service_id: str) -> Service:
    service = SERVICES_BY_ID.get(service_id)
    if service is None:
        raise NotFound(f"Unknown CDS service {service_id!r}; GET /cds-services lists the services")
    return service


def choose_language(accept_language: Any, default: str) -> str:
    """``Accept-Language`` overrides the configured language when it names nl or en."""
    candidates = (default, "en" if default == "nl" else "nl")
    return accept_language.best_match(candidates) or default


def evaluate_request(engine: Engine, resolver: PrefetchResolver, service: Service, body: Mapping[str, Any], *,
                     now: datetime, language: str, extra_allowed: Iterable[str] = ()) -> Evaluation:
    """Validate and evaluate one hook request (shared by the HTTP endpoint and ``cds-service evaluate``)."""
    validate_hook_request(body, service)
    data = resolver.resolve(service, body, extra_allowed=extra_allowed)
    return engine.evaluate(service, body["context"], data, now=now, language=language)


def dump_json(response: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of a response: orjson, or the standard library for what orjson refuses
    (non-text keys, integers beyond 64 bits), so every response that could be sent still is."""
    try:
        return orjson.dumps(response)
    except orjson.JSONEncodeError:
        return json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


bp.before_request(require_jwt)


@bp.post("/cds-services/<service_id>")
def invoke(service_id: str) -> Response:
    state = get_state()
    service = find_service(service_id)
    body = read_json_body(request)
    hook_instance = body.get("hookInstance")
    if isinstance(hook_instance, str) and HOOK_INSTANCE.match(hook_instance):  # only id-like text is logged
        g.hook_instance = hook_instance
    # Read only what this call needs: most calls send no Accept-Language, and the allowed FHIR
    # servers only matter when the request names a fhirServer (each costs a header parse).
    language = state.config.language
    if "Accept-Language" in request.headers:
        language = choose_language(request.accept_languages, language)
    extra_allowed = state.extra_allowed_fhir(request.environ) if body.get("fhirServer") else ()
    evaluation = evaluate_request(
        state.engine, state.resolver, service, body,
        now=state.clock(), language=language, extra_allowed=extra_allowed,
    )
    response = evaluation.response
    add_smart_links(response, evaluation.findings, base_url=state.config.public_base_url or request.host_url,
                    service_id=service.id, language=language)  # SMART app: record the missing facts
    issued = issued_cards_of(response, service.id, service.hook, evaluation.context.now)
    state.store.record_issued(issued)
    g.rule_ids = [card.rule_id for card in issued]
    for card in issued:
        state.metrics.cards.labels(service=service.id, rule=card.rule_id).inc()
    for order in evaluation.context.draft_orders:
        if order.kind == "unreadable":
            state.metrics.unreadable_drafts.labels(service=service.id).inc()
    for key in evaluation.facts.unavailable_sources:
        state.metrics.prefetch_unavailable.labels(key=key).inc()
    return Response(dump_json(response), mimetype="application/json", headers={"Content-Language": language})
