"""Prefetch resolution: what the EHR sent, plus what we must fetch ourselves.

For every prefetch key of the service (``services.PREFETCH``):

- the client sent a resource or a Bundle → use it (a Bundle's entry resources;
  a Bundle with a ``next`` link is completed from ``fhirServer``);
- the client sent ``null`` → "no data": an empty result, never fetched;
- the client sent an OperationOutcome, or did not send the key → fetch it from
  ``fhirServer`` (with the bearer token from ``fhirAuthorization``), all
  missing keys in parallel, each within the client's time budget.

A key that cannot be had follows its policy, as HAPI FHIR's CDS Hooks module
does: a *required* key makes the call fail with 412 (the body names each
missing key, its query and why); an *optional* key is reported in
:attr:`PatientData.unavailable`, the facts it feeds stay unknown and the cards
say so. ``fhirServer`` must be on the allow-list; an unlisted server is
refused with 400 before any request is made to it.

All fetches of one call share one :class:`~cds_service.fhir.client.FetchBudget`
(``CDS_FHIR_TIMEOUT`` seconds, byte and resource caps) and run on the shared
pool — a single missing key too — while the request thread waits at most
until the deadline; then it cancels what is still running (sockets are shut
down, so the pool's threads are free again at once). The reason a key is
missing is the same text for every kind of failure, so an answer never tells
a closed port from an open one; the service log has the details.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache
from threading import Lock
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from cds_service.engine import PatientData
from cds_service.errors import FhirServerNotAllowed, PreconditionFailed
from cds_service.fhir.client import FetchBudget, FhirClient, FhirFetchError, next_link
from cds_service.fhir.urls import Target, UnsafeUrl, parse_target
from cds_service.services import PREFETCH, PrefetchKey, Service

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


# One text for every fetch failure: a 412 must not tell a closed port from an open one (details are logged).
FETCH_FAILED = ("fetch failed: the FHIR server gave no usable answer within the call's limits "
                "(time, size, pages); see the service log")


class TokenUnavailable(LookupError):
    """A prefetch template names a token the request does not provide (e.g. no encounterId)."""


def render_query(template: str, context: Mapping[str, Any]) -> str:
    """Fill ``{{context.x}}`` and ``{{userPractitionerId}}``-style tokens (CDS Hooks 2.0 §prefetch tokens).

    Only first-level primitive context fields are tokens. Values are URL-quoted
    (``/`` kept, since ``userId`` is ``Type/id``), so a context value can never
    add query parameters or path segments of its own.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("context."):
            field_name = name.removeprefix("context.")
            raw = context.get(field_name) if "." not in field_name else None
            if isinstance(raw, bool) or not isinstance(raw, (str, int)) or raw == "":
                raise TokenUnavailable(f"context.{field_name} is not given")
            return quote(str(raw), safe="/")
        if name in _USER_TOKENS:
            user = context.get("userId")
            rtype, _, rid = str(user or "").partition("/")
            if rtype != _USER_TOKENS[name] or not rid:
                raise TokenUnavailable(f"{name}: the user is not a {_USER_TOKENS[name]}")
            return quote(rid, safe="")
        raise TokenUnavailable(f"unsupported prefetch token {{{{{name}}}}}")

    return _TOKEN.sub(value, template)


@dataclass(frozen=True)
class MissingKey:
    """A prefetch key that could not be had, and why (shown in the 412 body and on cards)."""

    key: str
    query: str  # the template, not the rendered query: no patient id in error bodies
    reason: str
    required: bool

    def body(self) -> dict[str, Any]:
        return {"key": self.key, "query": self.query, "reason": self.reason}


class FhirServerPolicy:
    """Which ``fhirServer`` base URLs the service may contact.

    With an allow-list, exactly those (plus ``extra_allowed``, e.g. the embedded
    demo FHIR base). Without one (development only; production refuses to start
    without it) loopback servers and ``extra_allowed`` only.
    """

    def __init__(self, allowed: Iterable[str] = (), *, production: bool = False) -> None:
        self.allowed = frozenset(parse_target(u, allow_query=False).base for u in allowed)
        self.production = production
        self._warned = False

    def check(self, fhir_server: object, extra_allowed: Iterable[str] = ()) -> Target:
        """The parsed ``fhirServer`` when it may be contacted; else :class:`FhirServerNotAllowed` (400).

        Compared as parts parsed by the connecting parser (scheme, host, port, path):
        see :mod:`cds_service.fhir.urls`. Nothing is ever connected to for this check.
        """
        try:
            target = _parse_base(fhir_server)
        except UnsafeUrl as exc:
            raise FhirServerNotAllowed(f"fhirServer is not an acceptable FHIR base URL ({exc}); it was not contacted",
                                       fhirServer=_shown(fhir_server)) from None
        if target.base in self.allowed or target.base in _bases(extra_allowed):
            return target
        if not self.allowed and not self.production and target.is_loopback:
            if not self._warned:
                log.warning("CDS_ALLOWED_FHIR_SERVERS is not set: allowing loopback FHIR servers only "
                            "(development mode)")
                self._warned = True
            return target
        raise FhirServerNotAllowed(
            "fhirServer is not on this service's allow-list (CDS_ALLOWED_FHIR_SERVERS); it was not contacted",
            fhirServer=_shown(fhir_server),
        )


def _bases(urls: Iterable[str]) -> set[str]:
    out = set()
    for url in urls:
        try:
            out.add(_parse_base(url).base)
        except UnsafeUrl:
            continue
    return out


def _parse_base(url: object) -> Target:
    """:func:`parse_target` for base URLs, cached: an EHR sends the same ``fhirServer`` on every call."""
    if isinstance(url, str) and len(url) <= 512:
        return _parse_base_cached(url)
    return parse_target(url, allow_query=False)


@lru_cache(maxsize=256)
def _parse_base_cached(url: str) -> Target:
    return parse_target(url, allow_query=False)  # an UnsafeUrl is raised, never cached


def _shown(value: object) -> str | None:
    """The refused value as echoed in the 400 body: the client's own text, bounded, printable ASCII only."""
    if not isinstance(value, str):
        return None
    text = value[:200]
    return "".join(c if " " <= c <= "~" else "\ufffd" for c in text)


@dataclass
class _Slot:
    """Resolution state of one prefetch key."""

    spec: PrefetchKey
    resources: Sequence[Mapping[str, Any]] = ()
    entries: Sequence[Any] | None = None  # a complete client Bundle's entries, read in the final single pass
    fetch: str | None = None  # "query" → fetch the rendered query; "follow" → complete the Bundle
    bundle: Mapping[str, Any] | None = None
    query: str = ""
    why_fetch: str = "not prefetched"
    missing: MissingKey | None = None


class PrefetchResolver:
    """Turns a hook request's prefetch (+ ``fhirServer``) into :class:`PatientData`. Thread-safe."""

    def __init__(self, client: FhirClient, policy: FhirServerPolicy, *, workers: int = 8) -> None:
        self.client = client
        self.policy = policy
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = Lock()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fhir-fetch")
            return self._pool

    # -- public ------------------------------------------------------------------
    def resolve(self, service: Service, request: Mapping[str, Any], *,
                extra_allowed: Iterable[str] = ()) -> PatientData:
        fhir_server = request.get("fhirServer") or None
        if fhir_server:
            fhir_server = self.policy.check(fhir_server, extra_allowed).url  # first: never contact a foreign server
        context = request.get("context") or {}
        sent = request.get("prefetch") or {}
        auth = request.get("fhirAuthorization") or {}
        token = auth.get("access_token") if isinstance(auth, Mapping) else None

        slots = [self._classify(PREFETCH[key], sent, context) for key in service.prefetch_keys]
        pending = [s for s in slots if s.fetch and s.missing is None]
        if pending and not fhir_server:
            for slot in pending:
                slot.missing = MissingKey(slot.spec.key, slot.spec.query, f"{slot.why_fetch} and no fhirServer given",
                                          slot.spec.required)
        elif pending:
            self._fetch_all(pending, fhir_server, token)

        missing = [s.missing for s in slots if s.missing is not None]
        required = [m for m in missing if m.required]
        if required:
            raise PreconditionFailed(
                "Required data could not be obtained: " + ", ".join(m.key for m in required),
                missing=[m.body() for m in required],
                unavailable=[m.body() for m in missing if not m.required],
            )
        for m in missing:
            log.info("prefetch %s unavailable (optional): %s", m.key, m.reason)
        resources, full_urls = _flatten(s for s in slots if s.missing is None)
        return PatientData(resources=resources, unavailable=frozenset(m.key for m in missing), full_urls=full_urls)

    # -- internals ---------------------------------------------------------------
    def _classify(self, spec: PrefetchKey, sent: Mapping[str, Any], context: Mapping[str, Any]) -> _Slot:
        slot = _Slot(spec=spec)
        if spec.key in sent:
            value = sent[spec.key]
            if value is None:  # "no data": an empty result, not fetched
                if spec.required and not spec.is_search:  # a read of the patient found nothing
                    slot.missing = MissingKey(spec.key, spec.query, "the EHR sent null: the patient was not found",
                                              True)
                return slot
            rtype = value.get("resourceType") if isinstance(value, dict) else None
            if rtype == "Bundle":
                entries = value.get("entry", [])
                if not isinstance(entries, list):
                    slot.why_fetch = "the prefetched Bundle's entry is not a list"
                elif next_link(value) is None:
                    slot.entries = entries
                    return slot
                else:
                    slot.fetch, slot.bundle, slot.why_fetch = "follow", value, "the prefetched Bundle has more pages"
                    return slot
            elif rtype == "OperationOutcome":
                slot.why_fetch = "prefetch held an OperationOutcome"
            elif isinstance(rtype, str) and rtype:
                slot.resources = (value,)
                return slot
            else:
                slot.why_fetch = "prefetch value is not a FHIR resource"
        try:
            slot.query = render_query(spec.query, context)
        except TokenUnavailable as exc:
            slot.missing = MissingKey(spec.key, spec.query, str(exc), spec.required)
            return slot
        slot.fetch = "query"
        return slot

    def _fetch_all(self, pending: list[_Slot], fhir_server: str, token: str | None) -> None:
        """Fetch every pending key on the pool within one budget; what is not done by the deadline is cancelled.

        Workers return their result; only this thread writes the slots, so an
        abandoned fetch that finishes late changes nothing.
        """
        budget = self.client.budget()
        pool = self._executor()
        futures: list[tuple[_Slot, Future]] = [
            (slot, pool.submit(self._fetch_one, slot, fhir_server, token, budget)) for slot in pending
        ]
        try:
            for slot, future in futures:
                try:
                    slot.resources, slot.missing = future.result(timeout=max(budget.deadline - time.monotonic(), 0))
                except FutureTimeout:
                    future.cancel()
                    log.warning("prefetch %s: abandoned at the call's deadline (%g s)", slot.spec.key,
                                self.client.timeout)
                    slot.resources, slot.missing = (), self._missing(slot)
        finally:
            budget.cancel()  # whatever still runs stops now (its socket is shut down)

    @staticmethod
    def _missing(slot: _Slot) -> MissingKey:
        return MissingKey(slot.spec.key, slot.spec.query, FETCH_FAILED, slot.spec.required)

    def _fetch_one(self, slot: _Slot, fhir_server: str, token: str | None,
                   budget: FetchBudget) -> tuple[Sequence[Mapping[str, Any]], MissingKey | None]:
        try:
            if slot.fetch == "follow":
                found = self.client.follow(fhir_server, slot.bundle or {}, token, slot.spec.resource_type, budget)
            else:
                found = self.client.fetch(fhir_server, slot.query, token, budget)
            return found, None
        except FhirFetchError as exc:
            log.warning("prefetch %s: fetch failed (%s: %s)", slot.spec.key, exc.code, exc.message)
            if not slot.spec.is_search and getattr(exc, "http_status", None) in (404, 410):
                # the allowed server itself says the patient does not exist: say so (a 412 that names it)
                reason = f"not found on the FHIR server (HTTP {exc.http_status}): the patient cannot be had"
                return (), MissingKey(slot.spec.key, slot.spec.query, reason, slot.spec.required)
            return (), self._missing(slot)
        except Exception:  # a bug must not hide as "data unavailable"
            log.exception("prefetch %s: unexpected error", slot.spec.key)
            raise


def _flatten(slots: Iterable[_Slot]) -> tuple[tuple[Mapping[str, Any], ...], dict[str, Mapping[str, Any]]]:
    """All resources of every key, and the Bundle ``fullUrl`` of each entry that has one.

    The hot path: one pass over every prefetched resource, plain ``dict`` checks,
    no copies. Bundle entries are read here directly (search-outcome
    OperationOutcomes skipped, as in :func:`bundle_resources`). A record that
    appears more than once (page overlap, the same resource in two keys) is kept
    once when the copies are identical, and every time when they differ: the facts
    layer then keeps the newest version (``fhir.parse.newest_copy``), so the order
    of keys and entries never decides.
    """
    seen: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    out: list[Mapping[str, Any]] = []
    urls: dict[str, Mapping[str, Any]] = {}
    append = out.append
    for slot in slots:
        if slot.entries is None:
            for resource in slot.resources:
                if _new_copy(seen, resource):
                    append(resource)
            continue
        for entry in slot.entries:
            resource = entry.get("resource") if type(entry) is dict else None
            if type(resource) is not dict:
                continue
            rtype = resource.get("resourceType")
            search = entry.get("search")
            if rtype == "OperationOutcome" and type(search) is dict and search.get("mode") == "outcome":
                continue
            url = entry.get("fullUrl")
            if type(url) is str and url:
                urls.setdefault(url, resource)
            if _new_copy(seen, resource):
                append(resource)
    return tuple(out), urls


def _new_copy(seen: dict[tuple[str, str], list[Mapping[str, Any]]], resource: Mapping[str, Any]) -> bool:
    """Whether ``resource`` is not an identical copy of one seen before (and note it)."""
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if type(rid) is not str or not rid or type(rtype) is not str:
        return True
    copies = seen.get((rtype, rid))
    if copies is None:
        seen[(rtype, rid)] = [resource]
        return True
    if any(c is resource or c == resource for c in copies):
        return False
    copies.append(resource)
    return True
