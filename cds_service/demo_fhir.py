"""A read-only FHIR R4 API over the bundled fixture patients, for demos without a FHIR server.

Mounted at ``/demo/fhir`` when ``CDS_DEMO_FHIR`` is on (``cds-service serve``
turns it on by default), so a new user can call the services with
``"fhirServer": "http://127.0.0.1:8080/demo/fhir"`` and nothing else running.
It answers what the services' prefetch templates need and little more:

- ``GET metadata`` (CapabilityStatement);
- ``GET {type}/{id}`` (read);
- ``GET {type}?patient=…`` / ``subject=…`` (``_id`` too) with ``_count`` and
  ``_offset``: a searchset Bundle with ``total``, ``link[self]`` and ``link[next]``;
- ``POST {type}/_search`` with the same parameters form-encoded (what browser
  EHRs such as the CDS Hooks sandbox try first): answered like the GET.

Writes (any other method) are refused with 405, unknown search parameters with 400
(ignoring one would silently return the wrong data), all as OperationOutcome.
Dates are moved from FIXTURE_NOW to the app's clock (the real now, or
``CDS_FIXED_NOW``), so the demo patients always look current. The fixtures are
read once, on first use, and re-shifted only when the calendar day changes.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import CombinedMultiDict, MultiDict

from cds_service.ehr.fixtures import DateShift, bundle_resources, read_bundles

FHIR_JSON = "application/fhir+json"
FORM = "application/x-www-form-urlencoded"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
PREFIX = "/demo/fhir"
_PAGING = ("_count", "_offset")
_IGNORED = ("_format", "_pretty")
_REFERENCE_PARAMS = ("patient", "subject")

blueprint = Blueprint("demo_fhir", __name__)


def demo_fhir_base(host_url: str) -> str:
    """The demo FHIR base URL on a host, e.g. ``http://127.0.0.1:8080/`` → ``…:8080/demo/fhir``."""
    return host_url.rstrip("/") + PREFIX


# -- the store ---------------------------------------------------------------------------

@dataclass
class DemoStore:
    """The fixture resources, by type and id, and by the patient they belong to."""

    shift_days: int
    resources: dict[str, dict[str, dict]] = field(default_factory=dict)  # type -> id -> resource
    by_patient: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (type, patient id) -> resources

    @classmethod
    def from_bundles(cls, bundles: Iterable[Mapping[str, Any]], shift: DateShift | None) -> "DemoStore":
        store = cls(shift_days=shift.days if shift else 0)
        for bundle in bundles:
            for resource in bundle_resources(bundle):
                store.add(shift.apply(resource) if shift else resource)
        return store

    def add(self, resource: dict) -> None:
        rtype, rid = resource["resourceType"], resource["id"]
        self.resources.setdefault(rtype, {})[rid] = resource
        patient = _patient_of(resource)
        if patient:
            self.by_patient.setdefault((rtype, patient), []).append(resource)

    def read(self, rtype: str, rid: str) -> dict | None:
        return self.resources.get(rtype, {}).get(rid)

    def search(self, rtype: str, patient: str | None, ids: list[str] | None) -> list[dict]:
        if patient is not None:
            found = self.by_patient.get((rtype, patient), [])
        else:
            found = list(self.resources.get(rtype, {}).values())
        if ids is not None:
            found = [r for r in found if r["id"] in ids]
        return found


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return resource.get("id")
    for key in _REFERENCE_PARAMS:
        ref = (resource.get(key) or {}).get("reference") if isinstance(resource.get(key), Mapping) else None
        if isinstance(ref, str) and "Patient/" in ref:
            return ref.rsplit("Patient/", 1)[1]
    return None


_lock = threading.Lock()


def _now() -> datetime:
    state = current_app.extensions.get("cds")
    clock: Callable[[], datetime] | None = getattr(state, "clock", None)
    return clock() if clock else datetime.now(timezone.utc)


def get_store() -> DemoStore:
    """The app's store: built on first use; rebuilt when the clock has moved to another day."""
    shift = DateShift.to(_now())
    store: DemoStore | None = current_app.extensions.get("demo_fhir")
    if store is not None and store.shift_days == shift.days:
        return store
    with _lock:
        store = current_app.extensions.get("demo_fhir")
        if store is None or store.shift_days != shift.days:
            store = DemoStore.from_bundles(read_bundles().values(), shift)
            current_app.extensions["demo_fhir"] = store
    return store


# -- responses ---------------------------------------------------------------------------

def _fhir(body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _outcome(status: int, code: str, text: str, headers: Mapping[str, str] | None = None) -> Response:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code,
                                                           "details": {"text": text}}]}
    return _fhir(body, status, headers)


def _read_only() -> Response:
    return _outcome(405, "not-supported", f"{request.method} is not allowed: the demo FHIR server is read-only",
                    {"Allow": "GET, HEAD"})


def _base() -> str:
    """This server's demo base for links: configuration (``CDS_PUBLIC_BASE_URL``, else the listening
    address), never a Host header naming some other server."""
    from cds_service.hooks.auth import development_bases

    config = getattr(current_app.extensions.get("cds"), "config", None)
    if config is not None and config.public_base_url:
        return config.public_base_url.rstrip("/") + PREFIX
    bases = development_bases(request.environ)
    host = request.host_url.rstrip("/")
    root = host if host in bases else (bases[0] if bases else "")
    return root + (request.script_root or "") + PREFIX


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@blueprint.route("/metadata", methods=ALL_METHODS)
def metadata() -> Response:
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    types = sorted(get_store().resources)
    search = [{"name": p, "type": "reference"} for p in _REFERENCE_PARAMS] + [{"name": "_id", "type": "token"}]
    return _fhir({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": _now().date().isoformat(),
        "kind": "instance",
        "software": {"name": "neuro-onc-cds demo FHIR server (bundled fixtures, read-only)"},
        "implementation": {"description": "Fixture patients of neuro-onc-cds", "url": _base()},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json"],
        "rest": [{
            "mode": "server",
            "resource": [
                {"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}], "searchParam": search}
                for t in types
            ],
        }],
    })


@blueprint.route("/", methods=ALL_METHODS, strict_slashes=False)
def base() -> Response:
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    return _outcome(400, "not-supported", "Searching across all types is not supported: use Type?patient=id")


@blueprint.route("/<rtype>/<rid>", methods=ALL_METHODS)
def read(rtype: str, rid: str) -> Response:
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    resource = get_store().read(rtype, rid)
    if resource is None:
        return _outcome(404, "not-found", f"{rtype}/{rid} is not known")
    return _fhir(resource)


@blueprint.route("/<rtype>/_search", methods=ALL_METHODS)
def post_search(rtype: str) -> Response:
    """``POST [type]/_search`` with form-encoded parameters (and any in the URL): a search is a read."""
    if request.method not in ("GET", "HEAD", "POST"):
        return _read_only()
    if request.method == "POST" and request.content_length and request.mimetype != FORM:
        return _outcome(415, "not-supported", f"a POST search takes {FORM} parameters, not {request.mimetype}")
    return _search(rtype, CombinedMultiDict([request.args, request.form]))


@blueprint.route("/<rtype>", methods=ALL_METHODS)
def search(rtype: str) -> Response:
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    return _search(rtype, request.args)


def _search(rtype: str, args: MultiDict) -> Response:
    if not rtype[:1].isupper():
        return _outcome(404, "not-found", f"{rtype} is not a resource type")
    unknown = sorted(k for k in args if k not in _REFERENCE_PARAMS + _PAGING + _IGNORED + ("_id",))
    if unknown:
        return _outcome(400, "not-supported", f"unsupported search parameter(s): {', '.join(unknown)} "
                        "(the demo server supports patient, subject, _id, _count and _offset)")
    try:
        count = min(int(args.get("_count", DEFAULT_COUNT)), MAX_COUNT)
        offset = int(args.get("_offset", 0))
        if count < 0 or offset < 0:
            raise ValueError
    except ValueError:
        return _outcome(400, "invalid", "_count and _offset must be whole numbers >= 0")
    patients = {_patient_param(args[k]) for k in _REFERENCE_PARAMS if k in args}
    if None in patients:
        return _outcome(400, "invalid", "patient/subject must be a Patient reference: id or Patient/id")
    if len(patients) > 1:
        matches: list[dict] = []
    else:
        ids = [i for v in args.getlist("_id") for i in v.split(",") if i] if "_id" in args else None
        matches = get_store().search(rtype, next(iter(patients), None), ids)
    page = matches[offset:offset + count]
    query = [(k, v) for k, v in args.items(multi=True) if k != "_offset"]
    if "_count" not in args:
        query.append(("_count", str(count)))

    def url(at: int) -> str:
        return f"{_base()}/{rtype}?" + urlencode(query + ([("_offset", str(at))] if at else []))

    links = [{"relation": "self", "url": url(offset)}]
    if count and offset + count < len(matches):
        links.append({"relation": "next", "url": url(offset + count)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(matches), "link": links}
    if page:
        bundle["entry"] = [{"fullUrl": f"{_base()}/{r['resourceType']}/{r['id']}", "resource": r,
                            "search": {"mode": "match"}} for r in page]
    return _fhir(bundle)


@blueprint.route("/<path:rest>", methods=ALL_METHODS)
def other(rest: str) -> Response:
    if request.method not in ("GET", "HEAD"):
        return _read_only()
    return _outcome(404, "not-found", f"{rest} is not supported by the demo FHIR server")


def _patient_param(value: str) -> str | None:
    """``id``, ``Patient/id`` or an absolute ``…/Patient/id`` → ``id``; other types → None."""
    value = value.strip()
    if "/" not in value:
        return value or None
    head, _, rid = value.rpartition("/")
    if head.rsplit("/", 1)[-1] != "Patient" or not rid:
        return None
    return rid
