"""Run a service's prefetch templates against a FHIR server, as an EHR does before calling it.

The templates come from the service's discovery entry. Tokens are replaced the
way CDS Hooks 2.0 defines them (first-level context fields, ``{{userPractitionerId}}``
and friends); searches follow ``link[rel=next]`` so the service gets every page in
one Bundle. A key whose query fails is left out — "absent" means "not
prefetched" to the service, which then fetches it itself or answers 412 —
never sent as ``null``, which would mean "there is no such data".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote

from cds_service.ehr.fhir import FhirError, FhirRestClient

_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class UnknownToken(LookupError):
    """The template uses a token this request cannot fill (e.g. no encounterId in the context)."""


def fill_template(template: str, context: Mapping[str, Any]) -> str:
    """Replace the prefetch tokens of one template with values from the hook context."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("context."):
            raw = context.get(name.removeprefix("context."))
            if not isinstance(raw, str) or not raw:
                raise UnknownToken(f"{{{{{name}}}}} is not in the context")
            return quote(raw, safe="/")
        if name in _USER_TOKENS:
            rtype, _, rid = str(context.get("userId") or "").partition("/")
            if rtype != _USER_TOKENS[name] or not rid:
                raise UnknownToken(f"{{{{{name}}}}}: the user is not a {_USER_TOKENS[name]}")
            return quote(rid, safe="")
        raise UnknownToken(f"unsupported token {{{{{name}}}}}")

    return _TOKEN.sub(value, template)


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
