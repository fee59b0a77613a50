"""``GET /cds-services``: the catalogue of services (ids are a public contract).

The body is built once per app from :data:`cds_service.services.SERVICES`.
"""

from __future__ import annotations

import json
from typing import Sequence

from flask import Blueprint, Response

from cds_service.hooks.guard import require_jwt
from cds_service.hooks.state import get_state
from cds_service.services import SERVICES, Service

bp = Blueprint("discovery", __name__)
bp.before_request(require_jwt)


def discovery_document(services: Sequence[Service] = SERVICES) -> bytes:
    return json.dumps({"services": [s.discovery() for s in services]}, ensure_ascii=False).encode("utf-8")


@bp.get("/cds-services")
def discovery() -> Response:
    return Response(get_state().discovery_body, mimetype="application/json")
