"""DPoP proofs at /oauth/token (RFC 9449 §4.3 and §5), checked with joserfc.

A token request with one valid `DPoP` header gets access tokens bound to the proof's key
(`cnf.jkt`, `token_type: DPoP`).  The proof must be signed with an asymmetric algorithm
the tenant advertises (`dpop_signing_alg_values_supported`) by the public key it embeds,
be for `POST` to the token endpoint as discovery publishes it, be recent, and be used
once.  The tenant issues no nonces (§8), like an Auth0 tenant that does not require them.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import Request
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

from devtenant.errors import InvalidDpopProof

ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"]
PROOF_TYPE = "dpop+jwt"
MAX_PROOF_LENGTH = 8 * 1024
MAX_AGE = 300  # seconds a proof's iat may lie in the past
LEEWAY = 30  # seconds it may lie in the future
MAX_REMEMBERED = 10_000  # proof ids kept against replay


class ProofChecker:
    """Checks token-endpoint proofs and remembers their ids for MAX_AGE seconds."""

    def __init__(self, token_endpoint: str, max_remembered: int = MAX_REMEMBERED) -> None:
        self._endpoint = _without_query(token_endpoint)
        self._max = max_remembered
        self._seen: OrderedDict[str, float] = OrderedDict()  # jti -> expiry, oldest first
        self._floor = 0.0  # after an overflow, proofs issued at or before this are refused

    def thumbprint(self, request: Request) -> str | None:
        """The RFC 7638 thumbprint of the key of the request's valid proof; None without one."""
        proofs = request.headers.getlist("dpop")
        if not proofs:
            return None
        if len(proofs) > 1 or len(proofs[0]) > MAX_PROOF_LENGTH:
            raise InvalidDpopProof("Send exactly one DPoP proof.")
        key, claims = _verified(proofs[0])
        self._check_claims(request, claims)
        return key.thumbprint()

    def _check_claims(self, request: Request, claims: dict[str, Any]) -> None:
        if claims.get("htm") != request.method:
            raise InvalidDpopProof("The DPoP proof is for another HTTP method.")
        htu = claims.get("htu")
        if not isinstance(htu, str) or _without_query(htu) != self._endpoint:
            raise InvalidDpopProof("The DPoP proof is for another URL.")
        iat, jti, now = claims.get("iat"), claims.get("jti"), time.time()
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise InvalidDpopProof("The DPoP proof has no valid iat.")
        if not now - MAX_AGE <= iat <= now + LEEWAY:
            raise InvalidDpopProof("The DPoP proof is too old or from the future.")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise InvalidDpopProof("The DPoP proof has no valid jti.")
        self._remember(jti, iat, now)

    def _remember(self, jti: str, iat: float, now: float) -> None:
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if jti in self._seen or iat <= self._floor:
            raise InvalidDpopProof("The DPoP proof was already used.")
        self._seen[jti] = iat + MAX_AGE
        if len(self._seen) > self._max:
            _, expiry = self._seen.popitem(last=False)
            self._floor = max(self._floor, min(expiry - MAX_AGE, now))


def _verified(proof: str) -> tuple[ECKey | RSAKey, dict[str, Any]]:
    """The proof's embedded public key and its claims, once its signature is checked."""
    embedded: list[ECKey | RSAKey] = []

    def embedded_key(obj: Any) -> ECKey | RSAKey:
        headers = obj.headers()
        if headers.get("typ") != PROOF_TYPE or "crit" in headers:
            raise InvalidDpopProof("The DPoP proof's typ must be dpop+jwt.")
        jwk = headers.get("jwk")
        key = JWKRegistry.import_key(jwk) if isinstance(jwk, dict) else None
        if not isinstance(key, ECKey | RSAKey) or key.is_private:
            raise InvalidDpopProof("The DPoP proof must embed a public EC or RSA key.")
        embedded.append(key)
        return key

    try:
        signed = jws.deserialize_compact(proof, embedded_key, algorithms=ALGORITHMS)
        claims = json.loads(signed.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidDpopProof("The DPoP proof is malformed or its signature is invalid.") from exc
    if not isinstance(claims, dict):
        raise InvalidDpopProof("The DPoP proof's claims are not a JSON object.")
    return embedded[0], claims


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))
