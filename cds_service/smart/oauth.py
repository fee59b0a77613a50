"""SMART App Launch 2.x, EHR launch, public client with PKCE (S256): the client half.

Discovery (``{iss}/.well-known/smart-configuration``), the authorization
request and the token exchange. The access token stays on the server, in a
:class:`SessionStore` entry that the browser only knows by a random cookie.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlencode

import jwt
import requests

from cds_service.errors import BadRequest, CdsError
from cds_service.services import PREFETCH

# Writes: one Observation per answer and the QuestionnaireResponse. Reads: what the guideline
# evaluation reads (the services' prefetch resource types), nothing else.
WRITE_SCOPES = ("patient/Observation.c", "patient/QuestionnaireResponse.c")


def read_scopes() -> tuple[str, ...]:
    scopes = []
    for key in PREFETCH.values():
        scopes.append(f"patient/{key.resource_type}.{'rs' if key.is_search else 'r'}")
    return tuple(dict.fromkeys(scopes))


def requested_scope() -> str:
    return " ".join(("launch", "openid", "fhirUser", *read_scopes(), *WRITE_SCOPES))


class SmartError(CdsError):
    """The launch or the token exchange failed (the body says which step)."""

    status = 400
    code = "smart-launch-failed"


class SmartUpstreamError(SmartError):
    status = 502
    code = "smart-upstream-error"


def pkce_pair() -> tuple[str, str]:
    """A code verifier (RFC 7636 §4.1, 43–128 chars) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def discover(iss: str, *, timeout: float) -> dict:
    """The SMART configuration of ``iss``; refuses servers without authorization code + PKCE S256."""
    url = iss.rstrip("/") + "/.well-known/smart-configuration"
    try:
        reply = requests.get(url, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as exc:
        raise SmartUpstreamError(f"SMART configuration could not be read: {type(exc).__name__}") from None
    if reply.status_code != 200:
        raise SmartUpstreamError(f"SMART configuration answered HTTP {reply.status_code}")
    try:
        config = reply.json()
    except ValueError:
        raise SmartUpstreamError("SMART configuration is not JSON") from None
    if not isinstance(config, dict):
        raise SmartUpstreamError("SMART configuration is not a JSON object")
    for key in ("authorization_endpoint", "token_endpoint"):
        if not isinstance(config.get(key), str) or not config[key].startswith(("http://", "https://")):
            raise SmartUpstreamError(f"SMART configuration lacks {key}")
    if "S256" not in (config.get("code_challenge_methods_supported") or ()):
        raise SmartUpstreamError("the authorization server does not support PKCE S256 (SMART App Launch 2.x)")
    return config


def authorize_url(config: Mapping[str, Any], *, client_id: str, redirect_uri: str, launch: str, iss: str,
                  state: str, challenge: str) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "launch": launch,
             "scope": requested_scope(), "state": state, "aud": iss, "code_challenge": challenge,
             "code_challenge_method": "S256"}
    return f"{config['authorization_endpoint']}?{urlencode(query)}"


def exchange_code(config: Mapping[str, Any], *, code: str, client_id: str, redirect_uri: str, verifier: str,
                  timeout: float) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": client_id,
            "code_verifier": verifier}
    try:
        reply = requests.post(config["token_endpoint"], data=form, headers={"Accept": "application/json"},
                              timeout=timeout)
    except requests.RequestException as exc:
        raise SmartUpstreamError(f"token endpoint unreachable: {type(exc).__name__}") from None
    try:
        body = reply.json()
    except ValueError:
        body = None
    if reply.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise SmartUpstreamError(f"token endpoint answered HTTP {reply.status_code}" + (f" ({error})" if error else ""))
    if not isinstance(body.get("access_token"), str) or str(body.get("token_type", "")).lower() != "bearer":
        raise SmartUpstreamError("token response lacks a Bearer access_token")
    if not isinstance(body.get("patient"), str) or not body["patient"]:
        raise SmartUpstreamError("token response lacks the patient launch context")
    return body


def fhir_user(config: Mapping[str, Any], id_token: Any, *, client_id: str, timeout: float) -> str | None:
    """The ``fhirUser`` claim of the id_token, after checking its signature (jwks_uri) and audience."""
    if not isinstance(id_token, str) or not isinstance(config.get("jwks_uri"), str):
        return None
    try:
        reply = requests.get(config["jwks_uri"], headers={"Accept": "application/json"}, timeout=timeout)
        reply.raise_for_status()
        keys = jwt.PyJWKSet.from_dict(reply.json()).keys
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = next((k for k in keys if k.key_id == kid), keys[0] if len(keys) == 1 and kid is None else None)
        if key is None:
            raise jwt.InvalidKeyError("no key in jwks_uri matches the id_token's kid")
        claims = jwt.decode(id_token, key.key, algorithms=["RS256", "ES256", "ES384"], audience=client_id,
                            options={"require": ["exp", "iat"]})
    except (jwt.PyJWTError, requests.RequestException, ValueError) as exc:
        raise SmartUpstreamError(f"id_token rejected: {type(exc).__name__}") from None
    user = claims.get("fhirUser")
    return user if isinstance(user, str) and user else None


@dataclass
class SmartSession:
    """One launch: first the pending authorization, then the token and its context."""

    iss: str
    state: str
    verifier: str
    config: Mapping[str, Any]
    redirect_uri: str
    services: tuple[str, ...]
    language: str = "nl"  # the card language the app was launched in (?lang=), else CDS_LANGUAGE
    created: float = field(default_factory=time.monotonic)
    access_token: str | None = None
    expires_at: float | None = None
    patient: str | None = None
    user: str | None = None
    scope: str = ""
    asked: dict = field(default_factory=dict)  # linkId → AskableFact of the questionnaire shown

    @property
    def authorized(self) -> bool:
        if self.access_token is None:
            return False
        return self.expires_at is None or time.monotonic() < self.expires_at


class SessionStore:
    """In-process, server-side sessions (one worker or sticky sessions); bounded in size and age."""

    def __init__(self, ttl: float = 1800.0, max_sessions: int = 1000) -> None:
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._items: dict[str, SmartSession] = {}
        self._lock = threading.Lock()

    def create(self, session: SmartSession) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            if len(self._items) >= self.max_sessions:
                oldest = min(self._items, key=lambda k: self._items[k].created)
                del self._items[oldest]
            self._items[sid] = session
        return sid

    def rotate(self, sid: str) -> str:
        """A new id for an existing session (after the login: the id the browser had before is dead)."""
        new = secrets.token_urlsafe(32)
        with self._lock:
            self._items[new] = self._items.pop(sid)
        return new

    def get(self, sid: str | None) -> SmartSession | None:
        if not sid:
            return None
        with self._lock:
            self._expire()
            return self._items.get(sid)

    def _expire(self) -> None:
        limit = time.monotonic() - self.ttl
        for key in [k for k, s in self._items.items() if s.created < limit]:
            del self._items[key]


def require(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"query parameter {name} is required", field=name)
    return value.strip()
