"""A minimal FHIR R4 REST client for the EHR side: read, search with paging, PUT, transaction.

Deliberately separate from the service's own client (``cds_service.fhir.client``):
the EHR simulator must not share code paths with the service it is testing.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import requests

FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """A FHIR request failed; ``status`` is the HTTP status (None when the server was not reached)."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.reason = reason or message  # without the URL: "cannot connect (connection refused)"


_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def network_reason(exc: BaseException, timeout: float | None = None) -> str:
    """A one-line reason for a request that got no HTTP answer (not urllib3's nested repr)."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s" if timeout else "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.ConnectionError):
        found = _ERRNO_TEXT.search(str(exc))
        return f"cannot connect ({found.group(1).strip().lower()})" if found else "cannot connect"
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return f"not a usable URL ({exc})"
    return type(exc).__name__


def host_of(url: str) -> str:
    """``scheme://host:port`` of a URL, for messages that need not repeat the whole query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def outcome_text(body: Any) -> str:
    """The diagnostics of an OperationOutcome, in one line (empty when ``body`` is not one)."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return ""
    parts = []
    for issue in body.get("issue") or ():
        text = (issue.get("details") or {}).get("text") or issue.get("diagnostics") or issue.get("code") or ""
        where = ", ".join(issue.get("expression") or ())
        parts.append(f"{text} ({where})" if where else text)
    return "; ".join(p for p in parts if p)


class FhirRestClient:
    """Talks to one FHIR base URL (``http://host/fhir``); one ``requests.Session`` per client."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, token: str | None = None,
                 session: requests.Session | None = None, max_pages: int = 100) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_pages = max_pages
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        """``Type/id`` or ``Type?query`` on this base; ``""`` is the base itself (transactions)."""
        return urljoin(self.base_url + "/", path.lstrip("/")) if path.strip("/") else self.base_url

    # -- requests ----------------------------------------------------------------
    def request(self, method: str, path_or_url: str, body: Any = None) -> dict:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url(path_or_url)
        headers = {"Content-Type": FHIR_JSON} if body is not None else None
        try:
            response = self.session.request(method, url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            reason = network_reason(exc, self.timeout)
            raise FhirError(f"{host_of(url)}: {reason}", reason=reason) from None
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if not 200 <= response.status_code < 300:
            detail = outcome_text(data) or (response.text[:200] if data is None else "")
            raise FhirError(f"{method} {url}: HTTP {response.status_code} {detail}".rstrip(),
                            status=response.status_code, body=data)
        if not isinstance(data, dict):
            raise FhirError(f"{method} {url}: the answer is not FHIR JSON", status=response.status_code)
        return data

    def read(self, path: str) -> dict:
        return self.request("GET", path)

    def put(self, resource: Mapping[str, Any]) -> dict:
        return self.request("PUT", f"{resource['resourceType']}/{resource['id']}", dict(resource))

    def transaction(self, bundle: Mapping[str, Any]) -> dict:
        return self.request("POST", "", dict(bundle))

    def search_pages(self, query: str) -> Iterator[dict]:
        """Every page of a search, following ``link[rel=next]`` (at most ``max_pages``)."""
        page = self.request("GET", query)
        yield page
        for _ in range(self.max_pages - 1):
            nxt = next_link(page)
            if not nxt:
                return
            page = self.request("GET", urljoin(self.base_url + "/", nxt))
            yield page
        if next_link(page):
            raise FhirError(f"GET {query}: more than {self.max_pages} pages")

    def search_all(self, query: str) -> dict:
        """One searchset Bundle holding the entries of all pages (no ``next`` link left)."""
        pages = list(self.search_pages(query))
        first = pages[0]
        entries = [entry for page in pages for entry in page.get("entry") or ()]
        merged: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        if "total" in first:
            merged["total"] = first["total"]
        self_link = [link for link in first.get("link") or () if link.get("relation") == "self"]
        if self_link:
            merged["link"] = self_link
        if not entries:
            del merged["entry"]
        return merged


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or ():
        if link.get("relation") == "next" and link.get("url"):
            return link["url"]
    return None
