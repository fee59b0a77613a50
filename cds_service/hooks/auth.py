"""JWT verification of CDS clients (CDS Hooks 2.0 §Security).

- Algorithms are pinned server-side: ES384 and RS384. ``none`` and every
  symmetric algorithm are refused whatever the token says.
- ``iss`` must be a trusted issuer (``CDS_TRUSTED_ISSUERS``: iss → JWKS URL or
  ``file:`` path). A ``jku`` header must be one of that issuer's configured JWKS
  URLs; keys are only ever fetched from the configured sources.
- The key is looked up by ``kid`` in a per-issuer JWKS cache; an unknown
  ``kid`` triggers one refresh (rate-limited), then the token is refused.
- ``aud`` must be the URL that was called (``CDS_PUBLIC_BASE_URL`` behind a
  proxy); ``exp``, ``iat`` (not in the future beyond the leeway) and ``jti``
  are required; a ``jti`` seen before within the token's lifetime is a replay.

Every refusal is a 401 without details; the reason is logged, never the token.
The replay cache is per process: with several gunicorn workers a replay is
caught within a worker (use a shared cache for stricter guarantees).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Request

from cds_service.errors import Unauthorized

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("ES384", "RS384")
_KEY_TYPES = {"ES384": ec.EllipticCurvePublicKey, "RS384": rsa.RSAPublicKey}
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]


class JwtRejected(Exception):
    """Internal: why a token was refused (logged, never returned)."""


def _read_source(source: str, session: requests.Session, timeout: float) -> Mapping[str, Any]:
    if source.startswith("file:"):
        parts = urlsplit(source)
        path = unquote(parts.path) if source.startswith("file://") else source.removeprefix("file:")
        return json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    response = session.get(source, timeout=timeout, allow_redirects=False,
                           headers={"Accept": "application/json, application/jwk-set+json"})
    response.raise_for_status()
    return response.json()


class JwksCache:
    """Public keys of each trusted issuer, by ``kid``. Loaded lazily (startup needs no network)."""

    def __init__(self, issuers: Mapping[str, Sequence[str]], *, session: requests.Session | None = None,
                 min_refresh_interval: float = 30.0, max_age: float = 3600.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.issuers = {iss: tuple(sources) for iss, sources in issuers.items()}
        self.session = session or requests.Session()
        self.min_refresh_interval = min_refresh_interval
        self.max_age = max_age
        self.timeout = timeout
        self.clock = clock
        self.fetches = 0
        self._keys: dict[str, dict[str, tuple[jwt.PyJWK, str | None]]] = {}  # iss -> kid -> (key, JWK alg)
        self._loaded_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def sources(self, iss: str) -> tuple[str, ...]:
        return self.issuers.get(iss, ())

    def key(self, iss: str, kid: str) -> tuple[jwt.PyJWK, str | None] | None:
        """The key with this ``kid`` and the ``alg`` its JWK declares (if any)."""
        with self._lock:
            now = self.clock()
            loaded = self._loaded_at.get(iss)
            if loaded is None or now - loaded > self.max_age:
                self._load(iss, now)
            else:
                found = self._keys.get(iss, {}).get(kid)
                if found is not None:
                    return found
                if now - loaded < self.min_refresh_interval:  # rate limit: unknown kids cannot force fetches
                    return None
                log.info("jwks: unknown kid, refreshing the issuer's key set", extra={"iss": iss})
                self._load(iss, now)
            return self._keys.get(iss, {}).get(kid)

    def _load(self, iss: str, now: float) -> None:
        keys: dict[str, tuple[jwt.PyJWK, str | None]] = {}
        for source in self.issuers.get(iss, ()):
            self.fetches += 1
            try:
                jwks = _read_source(source, self.session, self.timeout)
            except Exception as exc:  # keep the keys we had; the token will be refused if its key is not there
                log.warning("jwks: loading a key set of issuer failed (%s)", type(exc).__name__, extra={"iss": iss})
                continue
            for raw in jwks.get("keys", ()) if isinstance(jwks, Mapping) else ():
                kid = raw.get("kid") if isinstance(raw, Mapping) else None
                if not kid:
                    continue
                try:
                    keys[kid] = (jwt.PyJWK(raw), raw.get("alg"))
                except jwt.PyJWTError as exc:
                    log.info("jwks: skipping unusable key (%s)", type(exc).__name__, extra={"iss": iss})
        if keys or iss not in self._keys:
            self._keys[iss] = keys
        self._loaded_at[iss] = now


class ReplayCache:
    """``jti`` values seen, kept until the token expires (plus leeway)."""

    def __init__(self, max_entries: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def check_and_add(self, iss: str, jti: str, until: float) -> bool:
        """True when new; False when this ``(iss, jti)`` was seen and has not expired."""
        now = self.clock()
        with self._lock:
            seen = self._seen.get((iss, jti))
            if seen is not None and seen >= now:
                return False
            if len(self._seen) >= self.max_entries:
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
                if len(self._seen) >= self.max_entries:  # still full: refuse rather than forget
                    raise JwtRejected("replay cache full")
            self._seen[(iss, jti)] = until
            return True


class RedisReplayCache:
    """``jti`` values seen, shared by every worker process through Redis (scale-out configuration).

    An in-process :class:`ReplayCache` only protects one gunicorn worker; with several
    workers a replayed token could land on another one. ``SET key NX EXAT`` makes the
    check-and-add atomic across processes, and Redis forgets the key when the token expires.
    """

    def __init__(self, url: str, *, prefix: str = "cds:jti:") -> None:
        import redis  # optional dependency (extra ``scaleout``)

        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def check_and_add(self, iss: str, jti: str, until: float) -> bool:
        digest = hashlib.sha256(iss.encode() + b"\x00" + jti.encode()).hexdigest()
        key = self.prefix + digest
        try:
            return bool(self._redis.set(key, b"1", nx=True, exat=max(int(until) + 1, int(time.time()) + 1)))
        except Exception as exc:  # Redis down: refuse rather than accept a possible replay
            log.error("jti replay cache unavailable: %s", type(exc).__name__)
            raise JwtRejected("replay cache unavailable") from None


class JwtVerifier:
    def __init__(self, issuers: Mapping[str, Sequence[str]], *, leeway: float = 60,
                 session: requests.Session | None = None, jwks: JwksCache | None = None,
                 replay: ReplayCache | RedisReplayCache | None = None) -> None:
        self.leeway = leeway
        self.jwks = jwks or JwksCache(issuers, session=session)
        self.replay = replay or ReplayCache()

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The verified claims, or :class:`Unauthorized` (the reason is logged, not returned)."""
        try:
            return self._verify(token, audience)
        except JwtRejected as exc:
            log.warning("jwt rejected: %s", exc)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:  # malformed tokens and unusable keys
            log.warning("jwt rejected: %s", type(exc).__name__)
        raise Unauthorized("Unauthorized")

    def _verify(self, token: str, audience: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise JwtRejected(f"algorithm {alg!r} not allowed")
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            raise JwtRejected("typ is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise JwtRejected("no kid")
        unverified = jwt.decode(token, options={"verify_signature": False})
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not self.jwks.sources(iss):
            raise JwtRejected("untrusted issuer")
        jku = header.get("jku")
        if jku is not None and jku not in self.jwks.sources(iss):
            raise JwtRejected("jku is not on the issuer's allow-list")
        found = self.jwks.key(iss, kid)
        if found is None:
            raise JwtRejected("unknown kid")
        key, key_alg = found
        if key_alg is not None and key_alg != alg:
            raise JwtRejected("the key's alg differs from the token's")
        if not isinstance(key.key, _KEY_TYPES[alg]):
            raise JwtRejected("the key type does not fit the algorithm")
        audiences = list(dict.fromkeys([audience, audience.rstrip("/")]))
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=audiences,
            issuer=iss,
            leeway=self.leeway,
            options={"require": REQUIRED_CLAIMS, "verify_iat": True},
        )
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise JwtRejected("no jti")
        if not self.replay.check_and_add(iss, jti, float(claims["exp"]) + self.leeway):
            raise JwtRejected("replayed jti")
        return claims


def expected_audience(request: Request, public_base_url: str | None) -> str:
    """The URL the client called: ``aud`` must equal it (behind a proxy: the configured public base)."""
    if public_base_url:
        return public_base_url.rstrip("/") + request.path
    return request.base_url


def bearer_token(request: Request) -> str:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Unauthorized")
    return token.strip()
