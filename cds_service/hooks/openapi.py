"""``GET /openapi.json``: the OpenAPI 3 description of the service's HTTP API.

The document is kept in the repository (``cds_service/openapi.json``, shipped in
the wheel) and served as it is; a test keeps its paths and service ids in step
with the app, and the fuzz tests generate requests from it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from flask import Blueprint, Response

bp = Blueprint("openapi", __name__)


@lru_cache(maxsize=1)
def openapi_bytes() -> bytes:
    return resources.files("cds_service").joinpath("openapi.json").read_bytes()


def openapi_document() -> dict:
    return json.loads(openapi_bytes())


@bp.get("/openapi.json")
def openapi() -> Response:
    return Response(openapi_bytes(), mimetype="application/json")
