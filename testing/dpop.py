"""A DPoP client key for tests: makes proofs (RFC 9449 §4.2), valid or broken on purpose.

`DpopKey.generate().proof("GET", url, token)` is a valid proof; keyword overrides change
or (with None) remove claims, `header=` changes or removes header parameters, so each
test breaks exactly one thing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jws

from testing.issuer import TestIssuer

CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(token: str) -> str:
    """The `ath` claim for `token`: base64url(SHA-256(token))."""
    return b64url(hashlib.sha256(token.encode()).digest())


@dataclass(frozen=True)
class DpopKey:
    """A client's DPoP key pair; `public_jwk` goes in every proof's header."""

    alg: str
    pem: str
    public_jwk: dict[str, Any]
    private_jwk: dict[str, Any]

    @classmethod
    def generate(cls, alg: str = "ES256", rsa_bits: int = 2048) -> DpopKey:
        private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if alg.startswith("ES"):
            private = ec.generate_private_key(CURVES[alg])
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        private_jwk = jwk.construct(pem, alg).to_dict()
        members = ("kty", "crv", "x", "y") if alg.startswith("ES") else ("kty", "n", "e")
        public = {name: private_jwk[name] for name in members}
        return cls(alg=alg, pem=pem, public_jwk=public, private_jwk=private_jwk)

    @cached_property
    def signer(self) -> Any:
        """The private key, parsed once (bench.dpop signs tens of thousands of proofs)."""
        return jwk.construct(self.pem, self.alg)

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to this key."""
        canonical = json.dumps(dict(sorted(self.public_jwk.items())), separators=(",", ":"))
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def claims(self, htm: str, htu: str, token: str | None, /, **overrides: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": htm,
            "htu": htu,
            "iat": int(time.time()),
        }
        if token is not None:
            claims["ath"] = ath(token)
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def proof(
        self,
        htm: str,
        htu: str,
        token: str | None = None,
        /,
        *,
        header: dict[str, Any] | None = None,
        alg: str | None = None,
        **overrides: Any,
    ) -> str:
        """A proof for one request; `header` entries set to None are removed."""
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk, **(header or {})}
        headers = {name: value for name, value in headers.items() if value is not None}
        claims = self.claims(htm, htu, token, **overrides)
        signer = self.signer if alg in (None, self.alg) else self.pem
        proof: str = jws.sign(claims, signer, headers=headers, algorithm=alg or self.alg)
        if "typ" not in headers:  # python-jose always writes a typ: take it out again
            proof = _without_typ(proof, self.pem, alg or self.alg)
        return proof


def _without_typ(proof: str, pem: str, alg: str) -> str:
    header, payload, _ = proof.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    decoded.pop("typ")
    new_header = b64url(json.dumps(decoded).encode())
    key = jwk.construct(pem, alg)
    signature = key.sign(f"{new_header}.{payload}".encode())
    return f"{new_header}.{payload}.{b64url(signature)}"


def bound_token(issuer: TestIssuer, key: DpopKey, **overrides: Any) -> str:
    """An access token from `issuer` bound to `key` (`cnf.jkt`)."""
    return issuer.token(cnf={"jkt": key.thumbprint}, **overrides)
