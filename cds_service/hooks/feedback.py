"""``POST /cds-services/{id}/feedback``: store what the EHR did with our cards.

Validated (card uuid, outcome, acceptedSuggestions, overrideReason,
outcomeTimestamp; bounded per post), checked against the cards this service
issued, stored durably in one transaction before the 200. A retry, or a second
report of the same outcome for the same card, is answered as a duplicate. When
the feedback database is down the answer is 503 with ``Retry-After`` and
nothing is acknowledged; hook calls keep answering meanwhile.
"""

from __future__ import annotations

import json
from typing import Sequence

from flask import Blueprint, Response, request

from cds_service.errors import BadRequest, ServiceUnavailable
from cds_service.feedback_store import FeedbackItem, FeedbackStore, StoreUnavailable
from cds_service.hooks.guard import require_jwt
from cds_service.hooks.invoke import find_service
from cds_service.hooks.state import get_state
from cds_service.hooks.validation import parse_feedback, read_json_body

bp = Blueprint("feedback", __name__)
bp.before_request(require_jwt)

PENDING_WAIT = 0.5  # seconds to let this worker's issued-card writer catch up before a card counts as unknown


def check_cards(store: FeedbackStore, service_id: str, items: Sequence[FeedbackItem]) -> None:
    """Feedback must be about cards this service issued, and accepted suggestions must be the card's own.

    A card the store does not know (issued before the store existed, by another worker whose record
    is still queued, or lost while the database was down) is accepted and reported as ``(unknown card)``.
    """
    issued = store.issued_cards((item.card for item in items), wait_pending=PENDING_WAIT)
    for i, item in enumerate(items):
        card = issued.get(item.card)
        if card is None:
            continue
        if card.service_id != service_id:
            raise BadRequest(f"feedback[{i}].card was not issued by service {service_id!r}",
                             field=f"feedback[{i}].card")
        foreign = [s for s in item.accepted_suggestions if s not in card.suggestion_uuids]
        if foreign:
            raise BadRequest(f"feedback[{i}].acceptedSuggestions names a suggestion the card does not have",
                             field=f"feedback[{i}].acceptedSuggestions")


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    state = get_state()
    service = find_service(service_id)
    items = parse_feedback(read_json_body(request))
    try:
        check_cards(state.store, service.id, items)
        stored, duplicates = state.store.add_feedback(service.id, items)
    except StoreUnavailable:
        state.metrics.feedback_unavailable.inc()
        raise ServiceUnavailable("The feedback store is unavailable; nothing was stored. Retry later.") from None
    for item in items:
        state.metrics.feedback.labels(service=service.id, outcome=item.outcome).inc()
    body = {"stored": stored, "duplicates": duplicates}
    return Response(json.dumps(body), mimetype="application/json")
