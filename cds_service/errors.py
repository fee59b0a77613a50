"""The service's exception types, each mapped to one HTTP answer in ``hooks/errors.py``.

Raised anywhere below the HTTP layer; turned into a short JSON body
``{"error": code, "message": text, ...}`` in one place. Nothing here carries
patient data or tokens, so a message is always safe to return and to log.
"""

from __future__ import annotations

from typing import Any


class CdsError(Exception):
    """Base class: an error with an HTTP status and a machine-readable code."""

    status = 500
    code = "internal-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


class BadRequest(CdsError):
    """The request is malformed: bad JSON shape, wrong hook, missing context (400)."""

    status = 400
    code = "bad-request"


class FhirServerNotAllowed(BadRequest):
    """``fhirServer`` is not on the allow-list; the service never contacts it (400)."""

    code = "fhir-server-not-allowed"


class Unauthorized(CdsError):
    """Missing or invalid CDS client JWT (401, no details by design)."""

    status = 401
    code = "unauthorized"


class NotFound(CdsError):
    status = 404
    code = "not-found"


class MethodNotAllowed(CdsError):
    status = 405
    code = "method-not-allowed"


class UnsupportedMediaType(CdsError):
    status = 415
    code = "unsupported-media-type"


class PreconditionFailed(CdsError):
    """Required data could not be had (not prefetched, no or failing FHIR server): 412 per the spec.

    ``missing`` lists the prefetch keys (with their FHIR queries) that are needed.
    """

    status = 412
    code = "precondition-failed"


class PayloadTooLarge(CdsError):
    status = 413
    code = "payload-too-large"


class ServiceUnavailable(CdsError):
    """A dependency of this endpoint is down (the feedback database): retry later (503 + Retry-After)."""

    status = 503
    code = "service-unavailable"
    retry_after = 5


class FhirFetchError(CdsError):
    """A FHIR fetch failed (timeout, 5xx, bad JSON); the prefetch layer decides what it means."""

    status = 502
    code = "fhir-fetch-failed"
