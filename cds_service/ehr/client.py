"""HTTP calls an EHR makes to a CDS service: discovery and service invocation.

Each call can carry a fresh JWT whose ``aud`` is the exact URL being called
(the discovery URL for discovery, ``…/cds-services/{id}`` for a call), as the
spec asks. The language of the cards is asked with ``Accept-Language``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import requests

from cds_service.ehr.fhir import network_reason

Signer = Callable[[str], str]  # audience URL -> JWT


class CdsClientError(Exception):
    """Discovery or a call failed in a way that leaves nothing to show."""


@dataclass(frozen=True)
class ServiceCall:
    """One service call: where, the HTTP status, the parsed body (the text if not JSON), how long, and
    the language of the cards (the answer's ``Content-Language``, else the one asked for)."""

    service_id: str
    url: str
    status: int
    body: Any
    elapsed_ms: float
    language: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.body, dict) and isinstance(self.body.get("cards"), list)


class CdsClient:
    def __init__(self, base_url: str, *, signer: Signer | None = None, language: str | None = None,
                 timeout: float = 30.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.language = language
        self.timeout = timeout
        self.session = session or requests.Session()

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/cds-services"

    def service_url(self, service_id: str) -> str:
        return f"{self.discovery_url}/{service_id}"

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.signer:
            headers["Authorization"] = f"Bearer {self.signer(url)}"
        if self.language:
            headers["Accept-Language"] = self.language
        return headers

    def discover(self) -> list[dict]:
        """The ``services`` of ``GET {base}/cds-services``."""
        url = self.discovery_url
        try:
            response = self.session.get(url, headers=self._headers(url), timeout=self.timeout)
        except requests.RequestException as exc:
            raise CdsClientError(f"discovery at {url}: {network_reason(exc, self.timeout)}") from None
        if response.status_code != 200:
            raise CdsClientError(f"discovery at {url}: HTTP {response.status_code} {response.text[:300]}")
        try:
            services = response.json()["services"]
        except (ValueError, KeyError, TypeError):
            raise CdsClientError(f"discovery at {url}: the answer has no 'services' list") from None
        if not isinstance(services, list):
            raise CdsClientError(f"discovery at {url}: 'services' is not a list")
        return services

    def call(self, service_id: str, body: Mapping[str, Any]) -> ServiceCall:
        url = self.service_url(service_id)
        headers = {**self._headers(url), "Content-Type": "application/json"}
        started = time.monotonic()
        try:
            response = self.session.post(url, json=dict(body), headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise CdsClientError(f"call to {url}: {network_reason(exc, self.timeout)}") from None
        elapsed = (time.monotonic() - started) * 1000
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return ServiceCall(service_id=service_id, url=url, status=response.status_code,
                           body=parsed if parsed is not None else response.text, elapsed_ms=elapsed,
                           language=response.headers.get("Content-Language") or self.language)


def services_for(services: list[dict], hook: str, service_ids: tuple[str, ...] = ()) -> list[dict]:
    """The discovery entries to call: the named ones (any hook), else every service for ``hook``."""
    if service_ids:
        by_id = {s.get("id"): s for s in services}
        unknown = [sid for sid in service_ids if sid not in by_id]
        if unknown:
            raise CdsClientError(
                f"unknown service {', '.join(unknown)}; the service offers {', '.join(map(str, by_id))}"
            )
        return [by_id[sid] for sid in service_ids]
    chosen = [s for s in services if s.get("hook") == hook]
    if not chosen:
        raise CdsClientError(f"no service for hook {hook}")
    return chosen
