"""The simulated EHR's signing key and the JWT it sends with every CDS Hooks call.

As the spec (§ security) and the reference sandbox do: ES384 (RS384 for an RSA
key file), a ``kid`` in the header (the RFC 7638 thumbprint of the key unless
given), ``typ: JWT``, no ``jku``
(the service gets the JWKS out of band: a file or URL in ``CDS_TRUSTED_ISSUERS``),
and the claims ``iss``, ``aud`` (the exact URL called), ``exp``, ``iat``, ``jti``.
The key is generated once and kept in a PEM file so the service can keep
trusting the same JWKS across runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ALGORITHM = "ES384"
DEFAULT_ISSUER = "https://ehr-sandbox.neuro-onc-cds.example.org"
TOKEN_LIFETIME = 300  # seconds, as the reference sandbox


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


RSA_MIN_BITS = 2048


@dataclass(frozen=True)
class EhrKey:
    """A P-384 EC key (ES384) or an RSA key (RS384): the two algorithms the service accepts."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    key_id: str | None = None  # the JWT header's kid; None = the RFC 7638 thumbprint

    @classmethod
    def generate(cls) -> "EhrKey":
        return cls(ec.generate_private_key(ec.SECP384R1()))

    @classmethod
    def load(cls, path: Path, kid: str | None = None) -> "EhrKey":
        """The private key in a PEM file (PKCS#8 or traditional, unencrypted)."""
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not an unencrypted PEM private key ({exc})") from None
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < RSA_MIN_BITS:
                raise ValueError(f"{path}: an RSA key needs at least {RSA_MIN_BITS} bits for RS384")
        elif not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
            raise ValueError(f"{path} does not hold a P-384 EC private key (ES384) or an RSA key (RS384)")
        return cls(key, kid)

    @classmethod
    def load_or_create(cls, path: Path, kid: str | None = None) -> "EhrKey":
        """The key in ``path``; a new P-384 key is written there (PKCS#8, mode 600) if there is none."""
        if path.exists():
            return cls.load(path, kid)
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return key

    @property
    def algorithm(self) -> str:
        return "RS384" if isinstance(self.private_key, rsa.RSAPrivateKey) else ALGORITHM

    def _members(self) -> tuple[str, ...]:
        return ("e", "kty", "n") if self.algorithm == "RS384" else ("crv", "kty", "x", "y")

    def public_jwk(self) -> dict:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS384" else ECAlgorithm.to_jwk
        jwk = json.loads(to_jwk(self.private_key.public_key()))
        return {k: jwk[k] for k in self._members()}

    @property
    def kid(self) -> str:
        """The given key id, else the RFC 7638 thumbprint: stable for the key, unique within any JWKS."""
        if self.key_id:
            return self.key_id
        jwk = self.public_jwk()
        canonical = json.dumps({k: jwk[k] for k in self._members()}, separators=(",", ":"))
        return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    def jwks(self) -> dict:
        return {"keys": [{**self.public_jwk(), "kid": self.kid, "alg": self.algorithm, "use": "sig"}]}

    def sign(self, *, iss: str, aud: str, lifetime: int = TOKEN_LIFETIME,
             clock: Callable[[], float] = time.time) -> str:
        """A JWT for one call to ``aud`` (the exact URL that will be requested)."""
        now = int(clock())
        claims = {"iss": iss, "aud": aud, "exp": now + lifetime, "iat": now, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm,
                          headers={"kid": self.kid, "typ": "JWT"})


def write_jwks(key: EhrKey, path: Path) -> Path:
    """Write the public JWKS next to the key, for ``CDS_TRUSTED_ISSUERS`` (``file:`` source)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key.jwks(), indent=2) + "\n", encoding="utf-8")
    return path
