"""A small FHIR R4 REST client for the prefetch fallback, on ``requests``.

One :class:`FhirClient` per app: its ``requests.Session`` pools connections to
the EHR's FHIR server across calls and threads. All fetches of one hook call
share one :class:`FetchBudget`: a wall-clock deadline (headers *and* bodies:
bodies are streamed and reading stops at the deadline), a byte cap and a
resource cap. A budget can be cancelled from another thread: the sockets it
is reading are shut down, so an abandoned fetch frees its thread at once.

Every URL is checked with :func:`cds_service.fhir.urls.parse_target` before a
connection is made: queries and ``next`` links must stay below the FHIR base
(same scheme, host, port; path below the base path). Redirects are never
followed. Failures are raised as :class:`FhirFetchError` subclasses whose
``message`` says what went wrong (for the log); the prefetch layer decides
what the EHR is told.

Logs name the resource type and the HTTP status only: URLs contain patient ids,
and the bearer token is never logged.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping
from urllib.parse import unquote

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from cds_service import __version__
from cds_service.errors import FhirFetchError
from cds_service.fhir.urls import Target, UnsafeUrl, parse_target, resolve_link

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
CHUNK = 64 * 1024

__all__ = [
    "FetchBudget",
    "Spent",
    "FhirClient",
    "FhirFetchError",
    "FhirTimeout",
    "FhirConnectionError",
    "FhirHttpError",
    "FhirBadResponse",
    "FhirTooManyPages",
    "FhirTooMuchData",
    "FhirUrlRefused",
    "bundle_resources",
    "next_link",
]


class FhirTimeout(FhirFetchError):
    """The call's time budget ran out (connecting, waiting or reading the body)."""

    code = "fhir-timeout"


class FhirConnectionError(FhirFetchError):
    """The server could not be reached (DNS, refused, TLS)."""

    code = "fhir-connection-failed"


class FhirHttpError(FhirFetchError):
    """The server answered with a non-2xx status."""

    code = "fhir-http-error"

    def __init__(self, message: str, *, http_status: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.http_status = http_status


class FhirBadResponse(FhirFetchError):
    """The answer is not usable FHIR JSON (bad JSON, not a resource, an OperationOutcome, wrong type)."""

    code = "fhir-bad-response"


class FhirTooManyPages(FhirFetchError):
    """A search had more pages than the configured maximum, or its pages loop."""

    code = "fhir-too-many-pages"


class FhirTooMuchData(FhirFetchError):
    """The call's byte or resource cap was reached; the result would be incomplete."""

    code = "fhir-too-much-data"


class FhirUrlRefused(FhirFetchError):
    """A URL (query or ``next`` link) leaves the FHIR base or is unsafe: never requested."""

    code = "fhir-url-refused"


@dataclass
class FetchBudget:
    """What one hook call may spend on FHIR fetches, shared by its fetch threads.

    ``deadline`` is on the ``time.monotonic`` clock. :meth:`cancel` (called by
    the thread that gave up waiting) makes every further step fail and shuts
    down the sockets being read, so the fetch threads return at once.
    """

    deadline: float
    max_bytes: int
    max_resources: int
    timeout: float = 0.0  # for messages
    bytes_read: int = 0
    resources: int = 0
    cancelled: bool = False
    _open: set[Any] = field(default_factory=set)  # urllib3 connections in use by this budget's fetches
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remaining(self) -> float:
        """Seconds left; raises :class:`FhirTimeout` when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0 or self.cancelled:
            raise FhirTimeout(f"timeout after {self.timeout:g} s")
        return left

    def take_bytes(self, n: int, spent: "Spent") -> None:
        with self._lock:
            self.bytes_read += n
            spent.bytes += n
            if self.bytes_read > self.max_bytes:
                raise FhirTooMuchData(f"more than {self.max_bytes} bytes in one call")

    def take_resources(self, n: int, spent: "Spent") -> None:
        with self._lock:
            self.resources += n
            spent.resources += n
            if self.resources > self.max_resources:
                raise FhirTooMuchData(f"more than {self.max_resources} resources in one call")

    def give_back(self, spent: "Spent") -> None:
        """A key that failed holds nothing: what it counted is free for the call's other keys."""
        with self._lock:
            self.bytes_read -= spent.bytes
            self.resources -= spent.resources
            spent.bytes = spent.resources = 0

    def opened(self, conn: Any) -> None:
        with self._lock:
            self._open.add(conn)
            cancelled = self.cancelled
        if cancelled:
            _shutdown(conn)

    def closed(self, conn: Any) -> None:
        with self._lock:
            self._open.discard(conn)

    def cancel(self) -> None:
        """Give up: every fetch of this budget stops (its socket is shut down, waiting or reading)."""
        with self._lock:
            self.cancelled = True
            conns = list(self._open)
        for conn in conns:
            _shutdown(conn)


@dataclass
class Spent:
    """What one key's fetch has counted against its call's budget."""

    bytes: int = 0
    resources: int = 0


def _shutdown(conn: Any) -> None:
    """Unblock a thread waiting on this connection's socket (another thread's ``recv`` returns at once)."""
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed: nothing is blocked on it
        pass


# -- connection tracking: which connection a fetch thread is using, so a cancel can cut it --------------

_current = threading.local()


class _Tracking:
    """Mix-in for urllib3 pools: a connection taken by a fetch thread is registered with its budget."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        budget: FetchBudget | None = getattr(_current, "budget", None)
        if budget is not None:
            _current.conn = conn
            budget.opened(conn)
        return conn


class _TrackingHTTPPool(_Tracking, HTTPConnectionPool):
    pass


class _TrackingHTTPSPool(_Tracking, HTTPSConnectionPool):
    pass


class _TrackingAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackingHTTPPool, "https": _TrackingHTTPSPool}


def bundle_resources(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The resources of a Bundle's entries, without search-outcome OperationOutcomes.

    Hot path (every prefetched resource passes here): plain ``dict`` checks, no copies.
    """
    out = []
    append = out.append
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if type(entry) is dict else None
        if type(resource) is not dict:
            continue
        if resource.get("resourceType") == "OperationOutcome" and (entry.get("search") or {}).get("mode") == "outcome":
            continue
        append(resource)
    return out


def next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    for link in links if type(links) is list else ():
        if type(link) is dict and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def _resource_type(query: str) -> str:
    """``Observation?patient=…`` → ``Observation`` (for logs: never the query itself)."""
    return query.split("?", 1)[0].split("/", 1)[0] or "?"


def _page_resources(page: Mapping[str, Any], rtype: str) -> list[Mapping[str, Any]]:
    """A search page's resources; a match of another type than searched means the server answered wrongly."""
    if page.get("resourceType") != "Bundle":
        raise FhirBadResponse(f"{rtype}: a search answer is a {str(page.get('resourceType'))[:40]}, not a Bundle")
    entries = page.get("entry")
    if entries is not None and type(entries) is not list:
        raise FhirBadResponse(f"{rtype}: a search page's entry is not a list")
    out = []
    for entry in entries or ():
        resource = entry.get("resource") if type(entry) is dict else None
        if type(resource) is not dict:
            continue
        found = resource.get("resourceType")
        search = entry.get("search")
        mode = search.get("mode") if type(search) is dict else None
        if found == "OperationOutcome" and mode == "outcome":
            continue
        if rtype != "Bundle" and found != rtype and mode != "include":
            raise FhirBadResponse(f"{rtype}: a search page holds a {str(found)[:40]}")
        out.append(resource)
    return out


@dataclass
class FhirClient:
    """Fetches from a FHIR server; thread-safe; one per app (close it at shutdown)."""

    timeout: float = 3.0
    max_pages: int = 10
    pool_size: int = 8
    max_bytes: int = 32 * 1024 * 1024
    max_resources: int = 20_000
    session: requests.Session | None = None

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = requests.Session()
            self.session.trust_env = False  # no proxies or .netrc credentials from the environment
            adapter = _TrackingAdapter(pool_connections=4, pool_maxsize=max(self.pool_size, 4), max_retries=0)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        self.session.headers.update({"Accept": FHIR_JSON, "User-Agent": f"neuro-onc-cds/{__version__}"})

    @classmethod
    def from_config(cls, config: Any) -> "FhirClient":
        return cls(timeout=config.fhir_timeout, max_pages=config.fhir_max_pages, pool_size=config.fhir_workers,
                   max_bytes=config.fhir_max_bytes, max_resources=config.fhir_max_resources)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()

    def budget(self) -> FetchBudget:
        """A fresh budget for one hook call: ``timeout`` seconds from now, the byte and resource caps."""
        return FetchBudget(deadline=time.monotonic() + self.timeout, max_bytes=self.max_bytes,
                           max_resources=self.max_resources, timeout=self.timeout)

    # -- public ------------------------------------------------------------------
    def read(self, base: str, query: str, token: str | None = None, budget: FetchBudget | None = None) -> dict:
        """GET one resource or one search page (``query`` relative to ``base``)."""
        budget = budget or self.budget()
        base_target = _base(base)
        return self._get(self._url(base_target, query), _resource_type(query), token, budget, Spent())

    def fetch(self, base: str, query: str, token: str | None = None,
              budget: FetchBudget | None = None) -> list[Mapping[str, Any]]:
        """The resources a query yields: one resource for a read, every page's entries for a search."""
        budget = budget or self.budget()
        spent = Spent()
        try:
            base_target = _base(base)
            rtype = _resource_type(query)
            url = self._url(base_target, query)
            body = self._get(url, rtype, token, budget, spent)
            if "?" not in query and query.strip("/").count("/") == 1:  # Type/id: a read
                return [self._checked_read(body, query.strip("/"))]
            if body.get("resourceType") == "OperationOutcome":
                raise FhirBadResponse(f"{rtype}: the server returned an OperationOutcome")
            return list(self._pages(base_target, body, rtype, token, budget, spent, seen={url.url}))
        except FhirFetchError:
            budget.give_back(spent)
            raise

    def follow(self, base: str, bundle: Mapping[str, Any], token: str | None = None,
               resource_type: str = "Bundle", budget: FetchBudget | None = None) -> list[Mapping[str, Any]]:
        """The resources of a (prefetched) Bundle plus those of its following pages, fetched from ``base``."""
        budget = budget or self.budget()
        spent = Spent()
        try:
            return list(self._pages(_base(base), bundle, resource_type, token, budget, spent, seen=set(),
                                    first_fetched=False))
        except FhirFetchError:
            budget.give_back(spent)
            raise

    # -- internals ---------------------------------------------------------------
    def _checked_read(self, body: dict, query: str) -> dict:
        """A read answers the resource asked for: that type and that id (never another patient's record)."""
        rtype, _, rid = query.partition("/")
        if body.get("resourceType") == "OperationOutcome":
            raise FhirBadResponse(f"{rtype}: the server returned an OperationOutcome")
        if body.get("resourceType") != rtype:
            raise FhirBadResponse(f"{rtype}: the server returned a {str(body.get('resourceType'))[:40]}")
        if body.get("id") != unquote(rid):
            raise FhirBadResponse(f"{rtype}: the server returned another {rtype} than asked for")
        return body

    def _pages(self, base: Target, bundle: Mapping[str, Any], rtype: str, token: str | None, budget: FetchBudget,
               spent: Spent, seen: set[str], first_fetched: bool = True) -> Iterator[Mapping[str, Any]]:
        resources = _page_resources(bundle, rtype) if first_fetched else bundle_resources(bundle)
        if first_fetched:
            budget.take_resources(len(resources), spent)
        yield from resources
        pages_done = 1
        link = next_link(bundle)
        while link:
            if pages_done >= self.max_pages:
                raise FhirTooManyPages(f"more than {self.max_pages} pages")
            target = self._next(base, link)
            if target.url in seen:
                raise FhirTooManyPages(f"{rtype}: the search pages loop")
            seen.add(target.url)
            page = self._get(target, rtype, token, budget, spent)
            resources = _page_resources(page, rtype)
            budget.take_resources(len(resources), spent)
            pages_done += 1
            yield from resources
            link = next_link(page)

    @staticmethod
    def _url(base: Target, query: str) -> Target:
        """``base`` + ``query``, checked: a query (built from context values) must stay below the base."""
        try:
            target = parse_target(base.url.rstrip("/") + "/" + query.lstrip("/"))
        except UnsafeUrl as exc:
            raise FhirUrlRefused(f"query refused: {exc}") from None
        if not target.is_within(base):
            raise FhirUrlRefused("query refused: it leaves the FHIR base")
        return target

    @staticmethod
    def _next(base: Target, link: str) -> Target:
        """Next links are followed only below the same FHIR base: the bearer token must not travel elsewhere."""
        try:
            target = resolve_link(base, link)
        except UnsafeUrl as exc:
            raise FhirUrlRefused(f"a next link is refused: {exc}") from None
        if not target.is_within(base):
            raise FhirUrlRefused("a next link points outside the FHIR base")
        return target

    def _get(self, target: Target, rtype: str, token: str | None, budget: FetchBudget, spent: Spent) -> dict:
        remaining = budget.remaining()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        started = time.monotonic()
        _current.budget, _current.conn = budget, None
        try:
            try:
                response = self.session.get(target.url, headers=headers, timeout=(remaining, remaining),
                                            allow_redirects=False, stream=True)
            except requests.Timeout:
                log.warning("fhir fetch %s: timeout", rtype)
                raise FhirTimeout(f"timeout after {budget.timeout:g} s") from None
            except requests.RequestException as exc:
                budget.remaining()  # cut by a cancel: that is a timeout
                log.warning("fhir fetch %s: connection failed (%s)", rtype, type(exc).__name__)
                raise FhirConnectionError(f"connection failed ({type(exc).__name__})") from None
            try:
                if not 200 <= response.status_code < 300:
                    log.info("fhir fetch %s: HTTP %d", rtype, response.status_code)
                    raise FhirHttpError(f"HTTP {response.status_code}", http_status=response.status_code)
                raw = self._read_body(response, rtype, budget, spent)
            finally:
                if _current.conn is not None:
                    budget.closed(_current.conn)
                response.close()
        finally:
            if _current.conn is not None:
                budget.closed(_current.conn)
            _current.budget = _current.conn = None
        log.info("fhir fetch %s: HTTP %d, %d bytes in %.0f ms", rtype, response.status_code, len(raw),
                 (time.monotonic() - started) * 1000)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:  # also nesting deeper than orjson's limit: never a RecursionError
            raise FhirBadResponse(f"{rtype}: invalid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirBadResponse(f"{rtype}: not a FHIR resource")
        return body

    @staticmethod
    def _read_body(response: requests.Response, rtype: str, budget: FetchBudget, spent: Spent) -> bytes:
        """The body, read in chunks against the deadline and the byte cap (decompressed size counts)."""
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and budget.bytes_read + int(declared) > budget.max_bytes:
            raise FhirTooMuchData(f"{rtype}: the answer is larger than the call's byte cap")
        chunks = []
        try:
            while True:
                budget.remaining()
                chunk = response.raw.read1(CHUNK, decode_content=True)
                if not chunk:
                    break
                budget.take_bytes(len(chunk), spent)
                chunks.append(chunk)
        except FhirFetchError:
            log.warning("fhir fetch %s: body abandoned (deadline or cap)", rtype)
            raise
        except Exception as exc:  # a socket timeout, a reset, a shut-down socket, a broken encoding
            budget.remaining()  # cancelled or out of time: say so
            log.warning("fhir fetch %s: reading the body failed (%s)", rtype, type(exc).__name__)
            raise FhirConnectionError(f"reading the answer failed ({type(exc).__name__})") from None
        return b"".join(chunks)


def _base(base: str) -> Target:
    try:
        return parse_target(base, allow_query=False)
    except UnsafeUrl as exc:
        raise FhirUrlRefused(f"fhirServer refused: {exc}") from None
