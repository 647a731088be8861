"""Access-token validation: python-jose with every option explicit, then our own checks.

python-jose's defaults accept a token with no `exp` and no `aud`, and its claim checks
coerce strings (`int("9999999999")`), so every `require_*` option is set here and the
types of the time claims are checked again.  Tokens that pass are kept in a bounded
cache that never outlives their `exp`, so a client reusing its token (the common case)
costs a dictionary lookup instead of an RSA verification.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from jose import JWTError, jwt
from jose.exceptions import ExpiredSignatureError

from api.errors import InvalidToken
from api.jwks import JwksCache

VERIFIED_CACHE_SIZE = 10_000  # tokens remembered after a full verification
MAX_TOKEN_LENGTH = 16 * 1024  # characters; longer tokens are refused before parsing
# A token cannot pick its own key: `jku`, `x5u`, `jwk` and `x5c` are never read, let alone
# fetched or trusted; the signature is judged against the issuer's JWKS only, so a token
# carrying them verifies exactly when the issuer's key signed it (as in the reference).
# `crit` names extensions we would have to understand: we implement none, so it is refused.
REFUSED_HEADERS = frozenset({"crit"})
STRING_CLAIMS = ("sub", "client_id", "jti")
# 9999-12-31T23:59:59Z: a time claim past any real date is a forgery or a bug.  Without a
# bound, an issuer-signed exp of 10**400 overflowed float() and answered 500.
MAX_TIME_CLAIM = 253_402_300_799


class TokenVerifier:
    """Checks tokens for one issuer and audience; returns their claims or raises InvalidToken."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        audience: str,
        algorithms: list[str],
        clock_tolerance: int,
        cache_size: int = VERIFIED_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._audience = audience
        self._algorithms = frozenset(algorithms)
        self._tolerance = clock_tolerance
        self._clock = clock
        self._cache: OrderedDict[str, tuple[dict[str, Any], float, int]] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> dict[str, Any]:
        cached = self._cached(token)
        if cached is not None:
            return cached
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("The access token is malformed")
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise InvalidToken("The token's signing algorithm is not allowed")
        if REFUSED_HEADERS & header.keys():
            raise InvalidToken("The token's header is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("The access token is malformed")
        key = await self._keys.key_for(kid, alg)
        generation = self._keys.generation
        claims = self._decode(token, key, alg)
        self._remember(token, claims, generation)
        return claims

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._keys.issuer,  # as discovery names it, trailing slash or not
                options={
                    "verify_signature": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    # Only its type: a future iat (clock skew) is accepted, as in the
                    # reference, where only exp and nbf get the tolerance.
                    "verify_iat": True,
                    "verify_sub": True,
                    "verify_jti": True,
                    "verify_at_hash": False,  # access tokens carry no at_hash
                    "require_exp": True,
                    "require_aud": True,
                    "require_iss": True,
                    "require_iat": False,  # Auth0 always sends it; RFC 9068 allows omitting
                    "require_nbf": False,
                    "require_sub": False,
                    "require_jti": False,
                    "require_at_hash": False,
                    "leeway": self._tolerance,
                },
            )
        except ExpiredSignatureError as exc:
            raise InvalidToken("The access token expired") from exc
        except (JWTError, TypeError, ValueError, OverflowError) as exc:
            # TypeError/ValueError: python-jose's int() on claims such as {"exp": null}.
            raise InvalidToken(_describe(exc)) from exc
        self._check_types(claims)
        return claims

    def _check_types(self, claims: Mapping[str, Any]) -> None:
        for name in ("exp", "nbf", "iat"):
            if name not in claims:
                continue
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidToken(f"The token's {name} claim is not a number")
            if not -MAX_TIME_CLAIM <= value <= MAX_TIME_CLAIM:
                raise InvalidToken(f"The token's {name} claim is out of range")
        for name in STRING_CLAIMS:
            if name in claims and not isinstance(claims[name], str):
                raise InvalidToken(f"The token's {name} claim is not a string")

    # --- the verified-token cache -----------------------------------------------------------

    def _cached(self, token: str) -> dict[str, Any] | None:
        entry = self._cache.get(token)
        if entry is None:
            return None
        claims, expires, generation = entry
        if self._clock() > expires or generation != self._keys.generation:
            # Expired, or the key set changed (a key may have been withdrawn): check again.
            self._cache.pop(token, None)
            return None
        self._cache.move_to_end(token)
        return claims

    def _remember(self, token: str, claims: dict[str, Any], generation: int) -> None:
        self._cache[token] = (claims, float(claims["exp"]) + self._tolerance, generation)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except (JWTError, TypeError, ValueError) as exc:
        raise InvalidToken("The access token is malformed") from exc
    if not isinstance(header, dict):
        raise InvalidToken("The access token is malformed")
    return header


def _describe(exc: Exception) -> str:
    """A short, fixed description of a python-jose failure (never its raw message)."""
    message = str(exc).lower()
    for needle, description in (
        ("audience", "The token's audience is not this API"),
        ("issuer", "The token's issuer is not trusted"),
        ("not yet valid", "The access token is not valid yet"),
        ("before", "The access token is not valid yet"),
        ("expiration", "The access token has no valid expiry"),
        ("signature", "The token's signature is invalid"),
    ):
        if needle in message:
            return description
    return "The access token is invalid"
