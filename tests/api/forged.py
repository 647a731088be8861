"""Hand-made tokens python-jose refuses to produce: the attacks and oddities the
conformance test sends to our API and to Auth0's Express reference alike."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jws

from testing.issuer import SigningKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    """One base64url JSON segment of a compact JWS."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """`alg: none`: a token anyone can write."""
    return f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{segment(claims)}."


def hs256_with_public_key(claims: dict[str, Any], key: SigningKey) -> str:
    """The classic algorithm confusion: HMAC keyed with the issuer's *public* key."""
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims)}"
    mac = hmac.new(key.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def ps256(claims: dict[str, Any], key: SigningKey) -> str:
    """RSASSA-PSS with the issuer's real RSA key (python-jose cannot sign PS256)."""
    private = serialization.load_pem_private_key(key.pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    signing_input = f"{segment({'alg': 'PS256', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims)}"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = private.sign(signing_input.encode(), pss, hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def with_payload(token: str, claims: dict[str, Any]) -> str:
    """`token` with its payload replaced and its (now wrong) signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(claims)}.{signature}"


def with_flipped_signature(token: str) -> str:
    """`token` with the first byte of its signature changed."""
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0xFF
    return f"{header}.{payload}.{b64url(bytes(raw))}"


def self_keyed(claims: dict[str, Any]) -> str:
    """Signed by an attacker's key that the token itself carries as `jwk` (no kid)."""
    attacker = SigningKey.generate()
    header = {"alg": "RS256", "typ": "JWT", "jwk": attacker.public_jwk}
    return jws.sign(claims, attacker.pem, headers=header, algorithm="RS256")
