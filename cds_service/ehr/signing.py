"""The simulated EHR's signing key and the JWT it sends with every CDS Hooks call.

As the spec (§ security) and the reference sandbox do: ES384, a ``kid`` in the
header (here the RFC 7638 thumbprint of the key), ``typ: JWT``, no ``jku``
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
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES384"
DEFAULT_ISSUER = "https://ehr-sandbox.neuro-onc-cds.example.org"
TOKEN_LIFETIME = 300  # seconds, as the reference sandbox


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class EhrKey:
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> "EhrKey":
        return cls(ec.generate_private_key(ec.SECP384R1()))

    @classmethod
    def load_or_create(cls, path: Path) -> "EhrKey":
        """The key in ``path`` (PEM, PKCS#8); a new P-384 key is written there (mode 600) if there is none."""
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
                raise ValueError(f"{path} does not hold a P-384 EC private key (needed for ES384)")
            return cls(key)
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return key

    def public_jwk(self) -> dict:
        jwk = json.loads(ECAlgorithm.to_jwk(self.private_key.public_key()))
        return {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]}

    @property
    def kid(self) -> str:
        """RFC 7638 thumbprint: stable for the key, unique within any JWKS it is put in."""
        jwk = self.public_jwk()
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    def jwks(self) -> dict:
        return {"keys": [{**self.public_jwk(), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}]}

    def sign(self, *, iss: str, aud: str, lifetime: int = TOKEN_LIFETIME,
             clock: Callable[[], float] = time.time) -> str:
        """A JWT for one call to ``aud`` (the exact URL that will be requested)."""
        now = int(clock())
        claims = {"iss": iss, "aud": aud, "exp": now + lifetime, "iat": now, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"})


def write_jwks(key: EhrKey, path: Path) -> Path:
    """Write the public JWKS next to the key, for ``CDS_TRUSTED_ISSUERS`` (``file:`` source)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key.jwks(), indent=2) + "\n", encoding="utf-8")
    return path
