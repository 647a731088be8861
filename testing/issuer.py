"""A real OpenID issuer for tests and benchmarks: discovery and JWKS over HTTP.

It signs tokens with keys it makes itself, counts how often each document is fetched,
and can be told to fail, so tests can watch the API's caching, key rotation and
outage handling from the outside.  Serve it with `testing.servers.LiveServer(issuer.app)`
or run `python -m testing.issuer --port N` in its own process (the benchmarks do).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from fastapi import FastAPI, Response
from jose import jwk, jws

DEFAULT_AUDIENCE = "https://quickstarts/api"
TOKEN_LIFETIME = 3600  # seconds


@dataclass
class SigningKey:
    """A private key with its kid; `public_jwk` is what the JWKS publishes."""

    kid: str
    alg: str
    pem: str
    public_jwk: dict[str, Any]

    @classmethod
    def generate(cls, alg: str = "RS256", kid: str | None = None) -> SigningKey:
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if alg.startswith("ES"):
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        kid = kid or uuid.uuid4().hex
        # python-jose has no PS* keys: publish a PS256 key as the RSA key it is.
        public = jwk.construct(public_pem, "RS256" if alg.startswith("PS") else alg).to_dict()
        public.update(kid=kid, use="sig", alg=alg)
        return cls(kid=kid, alg=alg, pem=pem, public_jwk=public)

    @property
    def public_pem(self) -> str:
        key = serialization.load_pem_private_key(self.pem.encode(), password=None)
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


@dataclass
class TestIssuer:
    """An issuer at `url` (set once served) publishing `keys`; `fetches` counts requests."""

    __test__ = False  # not a pytest test class

    url: str = "http://127.0.0.1:0/"
    audience: str = DEFAULT_AUDIENCE
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate()])
    fetches: Counter[str] = field(default_factory=Counter)
    failing: bool = False  # when True, discovery and JWKS answer 503
    discovery_max_age: int | None = None  # Cache-Control max-age on discovery, if any
    advertised_issuer: str | None = None  # lie in discovery's "issuer" when set
    # More discovery fields (an OpenID provider's endpoints: see tests/provider.py).
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = self._build_app()

    def serve_at(self, base_url: str, *, trailing_slash: bool = True) -> None:
        """Name the issuer after where it is served: Auth0's form `http://host:port/` by
        default, or `http://host:port` as Keycloak, Okta and Azure AD spell theirs."""
        self.url = base_url.rstrip("/") + ("/" if trailing_slash else "")

    @property
    def base(self) -> str:
        """The issuer without a trailing slash, to join paths to."""
        return self.url.rstrip("/")

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None)

        @app.get("/.well-known/openid-configuration")
        def discovery(response: Response) -> Any:
            self.fetches["discovery"] += 1
            if self.failing:
                return Response(status_code=503)
            if self.discovery_max_age is not None:
                response.headers["Cache-Control"] = f"max-age={self.discovery_max_age}"
            return {
                "issuer": self.advertised_issuer or self.url,
                "jwks_uri": f"{self.base}/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": ["RS256"],
                **self.metadata,
            }

        @app.get("/.well-known/jwks.json")
        def jwks() -> Any:
            self.fetches["jwks"] += 1
            if self.failing:
                return Response(status_code=503)
            return {"keys": [key.public_jwk for key in self.keys]}

        return app

    # --- keys -----------------------------------------------------------------------------

    def rotate(self, keep_old: bool = True) -> SigningKey:
        """Publish a new key and sign with it from now on (it becomes keys[0])."""
        new = SigningKey.generate()
        self.keys = [new, *self.keys] if keep_old else [new]
        return new

    # --- tokens ---------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid access-token claims; an override of None removes that claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": "auth0|0123456789abcdef01234567",
            "aud": [self.audience, f"{self.base}/userinfo"],
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "scope": "openid profile read:messages",
            "azp": "quickstart-web",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(
        self,
        claims: dict[str, Any],
        key: SigningKey | None = None,
        alg: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        key = key or self.keys[0]
        all_headers = {"kid": key.kid, **(headers or {})}
        all_headers = {name: value for name, value in all_headers.items() if value is not None}
        token: str = jws.sign(claims, key.pem, headers=all_headers, algorithm=alg or key.alg)
        return token

    def token(self, **overrides: Any) -> str:
        """A valid RS256 access token for the audience, with `overrides` applied."""
        return self.sign(self.claims(**overrides))


def sign_raw(header: dict[str, Any], claims: dict[str, Any], secret: bytes, alg: str) -> str:
    """A JWS made by hand, for algorithms python-jose refuses to produce (HS* with a PEM
    secret, PS*): attackers are not limited to what a JOSE library will sign."""
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    if alg.startswith("HS"):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
        signature = hmac.new(secret, signing_input, digest).digest()
    else:
        key = serialization.load_pem_private_key(secret, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = key.sign(signing_input, pss, hashes.SHA256())
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{signing_input.decode()}.{encoded}"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def main() -> None:
    """Serve an issuer in its own process; print one valid token on stdout (and one bound
    to a DPoP key with --cnf-jkt), then serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--audience", default=DEFAULT_AUDIENCE)
    parser.add_argument("--cnf-jkt", help="also print a token bound to this DPoP key")
    args = parser.parse_args()
    issuer = TestIssuer(audience=args.audience)
    issuer.serve_at(f"http://127.0.0.1:{args.port}/")

    @issuer.app.get("/_counts")
    def counts() -> dict[str, int]:
        return dict(issuer.fetches)

    print(issuer.token(exp=int(time.time()) + 24 * 3600), flush=True)
    if args.cnf_jkt:
        bound = issuer.token(exp=int(time.time()) + 24 * 3600, cnf={"jkt": args.cnf_jkt})
        print(bound, flush=True)
    uvicorn.run(issuer.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
