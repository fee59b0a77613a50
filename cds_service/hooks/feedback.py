"""``POST /cds-services/{id}/feedback``: store what the EHR did with our cards.

Validated (card uuid, outcome, acceptedSuggestions, overrideReason,
outcomeTimestamp), stored durably before the 200, duplicates tolerated.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from cds_service.hooks.guard import require_jwt
from cds_service.hooks.invoke import find_service
from cds_service.hooks.state import get_state
from cds_service.hooks.validation import parse_feedback, read_json_body

bp = Blueprint("feedback", __name__)
bp.before_request(require_jwt)


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    state = get_state()
    service = find_service(service_id)
    items = parse_feedback(read_json_body(request))
    stored, duplicates = state.store.add_feedback(service.id, items)
    for item in items:
        state.metrics.feedback.labels(service=service.id, outcome=item.outcome).inc()
    body = {"stored": stored, "duplicates": duplicates}
    return Response(json.dumps(body), mimetype="application/json")
