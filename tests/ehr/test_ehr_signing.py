"""The EHR's JWT: ES384, kid, no jku, the five required claims, verifiable with the printed JWKS."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import jwt
import pytest

from cds_service.ehr.signing import ALGORITHM, EhrKey, write_jwks

AUD = "http://127.0.0.1:8080/cds-services/brain-metastases"
ISS = "https://ehr.example.org"


def test_token_verifies_with_the_jwks() -> None:
    key = EhrKey.generate()
    token = key.sign(iss=ISS, aud=AUD, clock=lambda: 1_700_000_000.7)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES384", "kid": key.kid, "typ": "JWT"}  # no jku: the JWKS is configured out of band
    jwk = jwt.PyJWK(key.jwks()["keys"][0])
    claims = jwt.decode(token, jwk.key, algorithms=[ALGORITHM], audience=AUD, options={"verify_exp": False})
    assert claims["iss"] == ISS
    assert claims["aud"] == AUD
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_300
    assert uuid.UUID(claims["jti"])
    assert "sub" not in claims


def test_each_token_has_a_new_jti() -> None:
    key = EhrKey.generate()
    jtis = {jwt.decode(key.sign(iss=ISS, aud=AUD), options={"verify_signature": False})["jti"] for _ in range(3)}
    assert len(jtis) == 3


def test_jwks_holds_only_the_public_key() -> None:
    jwks = EhrKey.generate().jwks()
    [k] = jwks["keys"]
    assert set(k) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (k["kty"], k["crv"], k["alg"], k["use"]) == ("EC", "P-384", "ES384", "sig")


def test_key_is_created_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ehr-key.pem"
    first = EhrKey.load_or_create(path)
    again = EhrKey.load_or_create(path)
    assert first.kid == again.kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    jwks_path = write_jwks(first, tmp_path / "keys" / "jwks.json")
    assert json.loads(jwks_path.read_text()) == first.jwks()


def test_a_key_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "p256.pem"
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="P-384"):
        EhrKey.load_or_create(path)
