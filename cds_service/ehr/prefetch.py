"""Run a service's prefetch templates against a FHIR server, as an EHR does before calling it.

The templates come from the service's discovery entry. Tokens are replaced the
way CDS Hooks 2.0 defines them (first-level context fields, ``{{userPractitionerId}}``
and friends); searches follow ``link[rel=next]`` so the service gets every page in
one Bundle. A key whose query fails is left out — "absent" means "not
prefetched" to the service, which then fetches it itself or answers 412 —
never sent as ``null``, which would mean "there is no such data".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from cds_service.ehr.fhir import FhirError, FhirRestClient
from cds_service.fhir.prefetch import TokenUnavailable, render_query

# The EHR side fills tokens exactly as the service does (one implementation of CDS Hooks 2.0 §prefetch tokens).
UnknownToken = TokenUnavailable
fill_template = render_query


def is_search(query: str) -> bool:
    """``Type?params`` or ``Type`` is a search; ``Type/id`` is a read."""
    path = query.split("?", 1)[0].strip("/")
    return "?" in query or "/" not in path


@dataclass
class PrefetchResult:
    """The ``prefetch`` object to send, the keys left out (with the reason) and the reads that found nothing."""

    prefetch: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    not_found: dict[str, str] = field(default_factory=dict)  # key -> the read that answered 404 (sent as null)


def run_prefetch(templates: Mapping[str, str], context: Mapping[str, Any],
                 client: FhirRestClient) -> PrefetchResult:
    """Fill every template, run it against ``client``'s server, and collect the answers by key.

    A read that answers 404 is sent as ``null`` (the resource does not exist);
    any other failure leaves the key out and is reported in ``failed``.
    """
    result = PrefetchResult()
    for key, template in templates.items():
        try:
            query = fill_template(template, context)
        except UnknownToken as exc:
            result.failed[key] = str(exc)
            continue
        try:
            result.prefetch[key] = client.search_all(query) if is_search(query) else client.read(query)
        except FhirError as exc:
            if exc.status == 404 and not is_search(query):
                result.prefetch[key] = None
                result.not_found[key] = query
            else:
                result.failed[key] = str(exc)
    return result
