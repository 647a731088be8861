"""Verifying one DPoP proof JWT (RFC 9449 §4.3), with python-jose and our own checks.

python-jose verifies the signature with the key the proof embeds, but it would also
accept what a DPoP proof must not carry, so these are checked here first:
- a `jwk` with private members (python-jose happily verifies with a private key);
- an EC key on another curve than the `alg` names (python-jose hashes with the alg's
  digest on any curve), or an RSA key under 2048 bits (it sets no minimum) or one made
  slow to verify on purpose (over 8192 bits, or a huge public exponent);
- a symmetric or unknown `alg`, and any `crit` extension.
The order of the claim checks and the error each gets follow express-oauth2-jwt-bearer:
a proof that fails is 400 `invalid_dpop_proof`, a token not bound to the proof's key is
401 `invalid_token`.  Descriptions are fixed; they never echo the proof.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jose.backends.base import Key
from jose.exceptions import JWKError
from jose.jwk import construct as jwk_construct

from api.errors import InvalidDpopProof, InvalidRequest, InvalidToken
from api.replay import ReplayCache

PROOF_TYPE = "dpop+jwt"
MAX_PROOF_LENGTH = 8 * 1024  # characters; an RSA-4096 proof is about 1.5 KiB
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192  # larger keys only make verification slow for us
MAX_RSA_EXPONENT_BYTES = 4  # e is 65537 in practice; a huge e makes verification costly
CURVE_FOR_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 §3.2: the members a thumbprint hashes, per key type.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
DEFAULT_PORTS = {"http": 80, "https": 443}
# URLs whose normalized form is kept: a client sends the same few, each at most
# MAX_PROOF_LENGTH characters, so this bounds the cache at a few MB.
NORMALIZED_URLS = 256
MAX_CACHED_KEYS = 1_024  # client keys whose parsed form is kept (one per client, typically)
# Three base64url segments, nothing else (no padding, no whitespace: RFC 7515 §7.1).
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# What decoding a segment can raise: binascii.Error, UnicodeDecodeError and JSON errors
# are ValueErrors; JSON nested a few thousand levels deep exhausts the recursion limit.
_UNPARSABLE = (ValueError, RecursionError)
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]")
_HOST = re.compile(r"^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])$")


class ProofVerifier:
    """Checks proofs for one API: its algorithms, `iat` window and replay memory."""

    def __init__(
        self,
        *,
        algorithms: tuple[str, ...],
        max_age: int,
        leeway: int,
        replay: ReplayCache,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._algorithms = frozenset(algorithms)
        self._max_age = max_age
        self._leeway = leeway
        self._replay = replay
        self._clock = clock
        self._keys = ProofKeys()

    def verify(self, proof: str, *, method: str, url: str, token: str, jkt: str) -> None:
        """Accept `proof` for this request and token bound to `jkt`, or raise."""
        key_thumbprint, claims = self._signed_claims(proof)
        self._check_iat(claims.get("iat"))
        _check_string(claims, "htm")
        if claims["htm"].upper() != method.upper():
            raise InvalidDpopProof("The DPoP proof is for another HTTP method")
        _check_string(claims, "htu")
        if normalize_url(claims["htu"], InvalidDpopProof) != url:
            raise InvalidDpopProof("The DPoP proof is for another URL")
        _check_string(claims, "jti")
        _check_string(claims, "ath")
        if claims["ath"] != b64url(hashlib.sha256(token.encode()).digest()):
            raise InvalidDpopProof("The DPoP proof is for another access token")
        if key_thumbprint != jkt:
            raise InvalidToken("The access token is bound to another key")
        if not self._replay.first_use(jkt, claims["jti"], claims["iat"]):
            raise InvalidDpopProof("The DPoP proof was already used")

    def _signed_claims(self, proof: str) -> tuple[str, dict[str, Any]]:
        """The proof's key thumbprint and claims, once its header and signature pass."""
        if len(proof) > MAX_PROOF_LENGTH or not _COMPACT_JWS.fullmatch(proof):
            raise InvalidDpopProof("The DPoP proof is malformed")
        header_part, payload_part, signature_part = proof.split(".")
        try:
            header = json.loads(_b64url_decode(header_part))
        except _UNPARSABLE as exc:
            raise InvalidDpopProof("The DPoP proof is malformed") from exc
        alg, jwk = self._check_header(header)
        key, jkt = self._keys.get(jwk, alg)
        signing_input = f"{header_part}.{payload_part}".encode()
        try:
            valid = key.verify(signing_input, _b64url_decode(signature_part))
            payload = json.loads(_b64url_decode(payload_part)) if valid else None
        except _UNPARSABLE as exc:
            raise InvalidDpopProof("The DPoP proof's signature is invalid") from exc
        if not valid:
            raise InvalidDpopProof("The DPoP proof's signature is invalid")
        if not isinstance(payload, dict):
            raise InvalidDpopProof("The DPoP proof is malformed")
        self._check_lifetime(payload)
        return jkt, payload

    def _check_header(self, header: Any) -> tuple[str, dict[str, Any]]:
        if not isinstance(header, dict) or "crit" in header:
            raise InvalidDpopProof("The DPoP proof's header is not allowed")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower().removeprefix("application/") != PROOF_TYPE:
            raise InvalidDpopProof("The DPoP proof's typ is not dpop+jwt")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise InvalidDpopProof("The DPoP proof's algorithm is not allowed")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or PRIVATE_MEMBERS & jwk.keys():
            raise InvalidDpopProof("The DPoP proof must embed a public key")
        return alg, jwk

    def _check_iat(self, iat: Any) -> None:
        if not iat:
            raise InvalidDpopProof("The DPoP proof has no iat")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise InvalidDpopProof("The DPoP proof's iat is not a number")
        now = int(self._clock())
        if not now - self._max_age <= iat <= now + self._leeway:
            raise InvalidDpopProof("The DPoP proof is too old or from the future")

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """exp and nbf are optional in a proof, but honoured when present (as jose does)."""
        now = self._clock()
        for name in ("exp", "nbf"):
            if name not in claims:
                continue
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidDpopProof(f"The DPoP proof's {name} is not a number")
            if (value <= now) if name == "exp" else (value > now):
                raise InvalidDpopProof("The DPoP proof is expired or not valid yet")


def _check_string(claims: dict[str, Any], name: str) -> None:
    if not claims.get(name):
        raise InvalidDpopProof(f"The DPoP proof has no {name}")
    if not isinstance(claims[name], str):
        raise InvalidDpopProof(f"The DPoP proof's {name} is not a string")


def _key_fits(key: dict[str, Any], alg: str) -> bool:
    kty = key.get("kty")
    members = THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None or not all(isinstance(key.get(name), str) for name in members):
        return False
    if key["kty"] == "EC":
        return bool(CURVE_FOR_ALG.get(alg) == key["crv"])
    try:
        modulus, exponent = (
            base64.urlsafe_b64decode(key[name] + "=" * (-len(key[name]) % 4)).lstrip(b"\0")
            for name in ("n", "e")
        )
    except ValueError:
        return False
    bits = len(modulus) * 8
    return (
        alg.startswith("RS")
        and MIN_RSA_BITS <= bits <= MAX_RSA_BITS
        and 0 < len(exponent) <= MAX_RSA_EXPONENT_BYTES
    )


class ProofKeys:
    """The verifying keys of recent proofs, by algorithm and key material (bounded, LRU).

    A client signs every proof with the same key, so parsing its JWK, checking it and
    building the key object (a point-on-curve check for EC) is done once per key, not once
    per request.  A key is cached only after `_key_fits` passed, and found again only by
    the very members it was built from, so a hit is the same key, checked the same way.
    """

    def __init__(self, max_keys: int = MAX_CACHED_KEYS) -> None:
        self._max_keys = max_keys
        self._keys: OrderedDict[tuple[str, ...], tuple[Key, str]] = OrderedDict()

    def get(self, jwk: dict[str, Any], alg: str) -> tuple[Key, str]:
        """python-jose's key for `jwk` under `alg`, and the key's RFC 7638 thumbprint."""
        kty = jwk.get("kty")
        members = THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
        values = [value for name in members or () if isinstance(value := jwk.get(name), str)]
        if not members or len(values) != len(members):
            raise InvalidDpopProof("The DPoP proof's key does not fit its algorithm")
        cache_key = (alg, *values)
        cached = self._keys.get(cache_key)
        if cached is not None:
            self._keys.move_to_end(cache_key)
            return cached
        if not _key_fits(jwk, alg):
            raise InvalidDpopProof("The DPoP proof's key does not fit its algorithm")
        public = {name: jwk[name] for name in members}
        try:
            entry = (jwk_construct(public, alg), thumbprint(public))
        except (JWKError, TypeError, ValueError) as exc:  # e.g. a point not on the curve
            raise InvalidDpopProof("The DPoP proof's signature is invalid") from exc
        self._keys[cache_key] = entry
        if len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)
        return entry


def thumbprint(key: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK: what a token's `cnf.jkt` holds."""
    members = THUMBPRINT_MEMBERS[key["kty"]]
    canonical = json.dumps({name: key[name] for name in members}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(segment: str) -> bytes:
    """One segment of a compact JWS, already matched against the base64url alphabet."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@lru_cache(maxsize=NORMALIZED_URLS)
def normalize_url(
    url: str, error: type[InvalidDpopProof] | type[InvalidRequest] = InvalidRequest
) -> str:
    """`scheme://host[:port]/path` with no query or fragment, default port dropped, scheme
    and host lowercased, and percent-encoded unreserved characters decoded (RFC 3986
    §6.2.2): how a proof's `htu` and the request's URL are compared (RFC 9449 §4.3)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise error("The URL is malformed") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not _HOST.match(host if ":" not in host else f"[{host}]"):
        raise error("The URL is malformed")
    authority = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        authority += f":{port}"
    path = _PERCENT.sub(_normalize_escape, parts.path) or "/"
    return f"{scheme}://{authority}{path}"


def _normalize_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group()[1:], 16))
    return char if _UNRESERVED.match(char) else match.group().upper()
