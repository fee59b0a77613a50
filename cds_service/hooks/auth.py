"""JWT verification of CDS clients (CDS Hooks 2.0 §Security).

- Algorithms are pinned server-side: ES384 and RS384. ``none`` and every
  symmetric algorithm are refused whatever the token says.
- ``iss`` must be a trusted issuer (``CDS_TRUSTED_ISSUERS``: iss → JWKS URL or
  ``file:`` path). A ``jku`` header must be one of that issuer's configured JWKS
  URLs; keys are only ever fetched from the configured sources.
- The key is looked up by ``kid`` in a per-issuer JWKS cache; an unknown
  ``kid`` triggers one refresh (rate-limited), then the token is refused.
- ``aud`` must be the URL that was called, built from configuration, never
  from the ``Host`` or ``X-Forwarded-*`` headers: ``CDS_PUBLIC_BASE_URL`` + the
  path (required in production); in development without it, the address of
  the socket the server accepted the call on (plus ``localhost`` /
  ``127.0.0.1`` / ``[::1]`` when that is a loopback address).
- ``exp``, ``iat`` and ``jti`` are required; ``iat`` may be neither in the
  future nor older than ``CDS_JWT_MAX_LIFETIME`` (beyond the leeway), and
  ``exp - iat`` may not exceed it: a token lives minutes, so the ``jti``
  replay cache holds each entry minutes and cannot be filled by long-lived
  tokens. A ``jti`` seen before within the token's lifetime is a replay.

Every refusal is a 401 without details; the reason (a short code for the
``reason`` label of ``cds_jwt_rejected_total``, plus expected and received
``aud``/``iss`` where that is the problem) is logged, never the token.
The replay cache is per process unless ``CDS_REDIS_URL`` is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import ssl
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
from cds_service.fhir.urls import is_loopback_host, parse_target

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("ES384", "RS384")
_KEY_TYPES = {"ES384": ec.EllipticCurvePublicKey, "RS384": rsa.RSAPublicKey}
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
MAX_JTI_LENGTH = 256
MAX_JWKS_BYTES = 1024 * 1024

# Reason codes (the ``reason`` label of cds_jwt_rejected_total): a small fixed set.
REASONS = ("no-token", "malformed", "algorithm", "typ", "no-kid", "untrusted-issuer", "jku", "unknown-kid",
           "key-mismatch", "signature", "audience", "issuer", "expired", "iat-future", "iat-too-old", "lifetime",
           "missing-claim", "bad-claim", "replay", "replay-cache", "no-audience", "invalid")


class JwtRejected(Exception):
    """Internal: why a token was refused (logged, never returned). ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


def _read_source(source: str, session: requests.Session, timeout: float) -> Mapping[str, Any]:
    if source.startswith("file:"):
        parts = urlsplit(source)
        path = unquote(parts.path) if source.startswith("file://") else source.removeprefix("file:")
        return json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    target = parse_target(source)  # the parser that connects: what is checked is what is fetched
    with session.get(target.url, timeout=timeout, allow_redirects=False, stream=True,
                     headers={"Accept": "application/json, application/jwk-set+json"}) as response:
        response.raise_for_status()
        body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("JWKS larger than 1 MiB")
    return json.loads(body)


class JwksCache:
    """Public keys of each trusted issuer, by ``kid``. Loaded lazily (startup needs no network)."""

    def __init__(self, issuers: Mapping[str, Sequence[str]], *, session: requests.Session | None = None,
                 min_refresh_interval: float = 30.0, max_age: float = 3600.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.issuers = {iss: tuple(sources) for iss, sources in issuers.items()}
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy or .netrc from the environment for key fetches
        self.session = session
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
                    raise JwtRejected("replay-cache", "replay cache full")
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
            raise JwtRejected("replay-cache", "replay cache unavailable") from None


class JwtVerifier:
    def __init__(self, issuers: Mapping[str, Sequence[str]], *, leeway: float = 60, max_lifetime: float = 300,
                 session: requests.Session | None = None, jwks: JwksCache | None = None,
                 replay: ReplayCache | RedisReplayCache | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self.jwks = jwks or JwksCache(issuers, session=session)
        self.replay = replay or ReplayCache()
        self.clock = clock

    def verify(self, token: str, audience: str | Sequence[str]) -> dict[str, Any]:
        """The verified claims, or :class:`Unauthorized` with a ``reason`` code (logged, not returned)."""
        audiences = [audience] if isinstance(audience, str) else list(audience)
        try:
            return self._verify(token, audiences)
        except JwtRejected as exc:
            reason, detail = exc.reason, exc.detail
        except jwt.InvalidAudienceError:
            reason, detail = "audience", f"aud {_received(token, 'aud')} is not the expected {audiences}"
        except jwt.InvalidIssuerError:
            reason, detail = "issuer", "iss does not match"
        except jwt.ExpiredSignatureError:
            reason, detail = "expired", "exp is in the past"
        except jwt.ImmatureSignatureError:
            reason, detail = "iat-future", "iat or nbf is in the future beyond the leeway"
        except jwt.MissingRequiredClaimError as exc:
            reason, detail = "missing-claim", f"claim {exc.claim!r} is missing"
        except jwt.InvalidSignatureError:
            reason, detail = "signature", "the signature does not verify"
        except jwt.DecodeError as exc:
            reason, detail = "malformed", f"not a decodable JWT ({type(exc).__name__})"
        except Exception as exc:  # odd claims (inf, NaN, wrong types) and unusable keys: a 401, never a 500
            reason, detail = "invalid", type(exc).__name__
        log.warning("jwt rejected: %s", detail, extra={"jwt_reason": reason})
        error = Unauthorized("Unauthorized")
        error.reason = reason  # type: ignore[attr-defined]
        raise error

    def _verify(self, token: str, audiences: list[str]) -> dict[str, Any]:
        if not audiences:
            raise JwtRejected("no-audience", "no expected audience: set CDS_PUBLIC_BASE_URL")
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise JwtRejected("algorithm", f"algorithm {_text(alg)} not allowed (ES384, RS384)")
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            raise JwtRejected("typ", "typ is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise JwtRejected("no-kid", "the header has no kid")
        unverified = jwt.decode(token, options={"verify_signature": False})
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not self.jwks.sources(iss):
            raise JwtRejected("untrusted-issuer", f"iss {_text(iss)} is not one of the "
                              f"{len(self.jwks.issuers)} configured issuers (CDS_TRUSTED_ISSUERS)")
        jku = header.get("jku")
        if jku is not None and jku not in self.jwks.sources(iss):
            raise JwtRejected("jku", f"jku {_text(jku)} is not one of the issuer's configured JWKS URLs")
        found = self.jwks.key(iss, kid)
        if found is None:
            raise JwtRejected("unknown-kid", f"kid {_text(kid)} is not in the issuer's key set")
        key, key_alg = found
        if key_alg is not None and key_alg != alg:
            raise JwtRejected("key-mismatch", "the key's alg differs from the token's")
        if not isinstance(key.key, _KEY_TYPES[alg]):
            raise JwtRejected("key-mismatch", "the key type does not fit the algorithm")
        expected = list(dict.fromkeys(a for audience in audiences for a in (audience, audience.rstrip("/"))))
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=expected,
            issuer=iss,
            leeway=self.leeway,
            options={"require": REQUIRED_CLAIMS, "verify_iat": True},
        )
        self._check_lifetime(claims)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise JwtRejected("bad-claim", "jti is not a non-empty string")
        if len(jti) > MAX_JTI_LENGTH:
            raise JwtRejected("bad-claim", f"jti longer than {MAX_JTI_LENGTH} characters")
        if not self.replay.check_and_add(iss, jti, float(claims["exp"]) + self.leeway):
            raise JwtRejected("replay", "jti was seen before (replay)")
        return claims

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        """A token lives at most ``max_lifetime`` seconds and was issued no longer ago than that.

        Written so that NaN or infinite values fail every comparison and are refused.
        """
        exp, iat = claims.get("exp"), claims.get("iat")
        for name, value in (("exp", exp), ("iat", iat)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise JwtRejected("bad-claim", f"{name} is not a finite number")
        if not self.clock() - iat <= self.max_lifetime + self.leeway:
            raise JwtRejected("iat-too-old", f"iat is more than {self.max_lifetime:g} s (+ leeway) in the past")
        if not exp - iat <= self.max_lifetime:
            raise JwtRejected("lifetime", f"exp - iat = {exp - iat:.0f} s exceeds the maximum token lifetime "
                              f"{self.max_lifetime:g} s (CDS_JWT_MAX_LIFETIME)")


def _text(value: Any, limit: int = 120) -> str:
    """A client-supplied header or claim value for a log line: repr, bounded, one line."""
    return repr(value if not isinstance(value, str) else value[:limit])[: limit + 10]


def _received(token: str, claim: str) -> str:
    try:
        return _text(jwt.decode(token, options={"verify_signature": False}).get(claim))
    except Exception:
        return "?"


def expected_audiences(request: Request, public_base_url: str | None, *, production: bool = False) -> tuple[str, ...]:
    """The URLs the client may have called: the JWT ``aud`` must be one of them.

    Never built from the ``Host`` or ``X-Forwarded-*`` headers (a client could
    then present a token minted for another service by naming that service's
    host). With ``CDS_PUBLIC_BASE_URL``: that base + the path. In production
    without it: none (configuration refuses that combination). In development:
    the local address of the socket the call came in on (werkzeug and gunicorn
    pass the socket), with ``localhost``/``127.0.0.1``/``[::1]`` for a loopback
    address; without a socket (test clients), the WSGI server's own
    ``SERVER_NAME``/``SERVER_PORT``.
    """
    path = request.path
    if public_base_url:
        return (public_base_url.rstrip("/") + path,)
    if production:
        return ()
    return tuple(base + path for base in development_bases(request.environ))


def development_bases(environ: Mapping[str, Any]) -> tuple[str, ...]:
    """``http://host:port`` of the address the development server listens on (see :func:`expected_audiences`)."""
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if sock is not None:  # TLS on this very socket, not what an X-Forwarded-Proto header claims
        scheme = "https" if isinstance(sock, ssl.SSLSocket) else "http"
    else:  # test clients: the scheme they were built with
        scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    host: str | None
    port: int | None
    if sock is not None:
        try:
            address = sock.getsockname()
        except OSError:
            return ()
        if not isinstance(address, tuple) or len(address) < 2:
            return ()  # a unix socket: no address to name
        host, port = str(address[0]), int(address[1])
    else:
        host = environ.get("SERVER_NAME")
        try:
            port = int(environ.get("SERVER_PORT") or 0)
        except ValueError:
            return ()
    if not host or not port:
        return ()
    hosts = ["localhost", "127.0.0.1", "[::1]"] if is_loopback_host(host) else [f"[{host}]" if ":" in host else host]
    default = 443 if scheme == "https" else 80
    return tuple(f"{scheme}://{h}" + ("" if port == default else f":{port}") for h in hosts)


def expected_audience(request: Request, public_base_url: str | None) -> str:
    """Backwards-compatible single audience (the first of :func:`expected_audiences`)."""
    found = expected_audiences(request, public_base_url)
    return found[0] if found else ""


def bearer_token(request: Request) -> str:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        log.warning("jwt rejected: %s", "no Authorization header" if not scheme else "not a Bearer token",
                    extra={"jwt_reason": "no-token"})
        error = Unauthorized("Unauthorized")
        error.reason = "no-token"  # type: ignore[attr-defined]
        raise error
    return token.strip()
