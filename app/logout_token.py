"""Checking a back-channel `logout_token` (OIDC Back-Channel Logout 1.0, section 2.6).

joserfc checks the signature against the issuer's JWKS (as discovery publishes it,
fetched and cached by Authlib) and the registered claims; the rules particular to logout
tokens (the `events` claim, `sid` and/or `sub`, no `nonce`, explicit typing) are here.
A replayed `jti` is refused by the caller, against the shared replay cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.errors import InvalidLogoutToken

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# RFC 8725 explicit typing: a logout token may say so; an access token ("at+jwt") may not pass.
ACCEPTED_TYPES = frozenset({"logout+jwt", "application/logout+jwt", "jwt"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
DEFAULT_ALGORITHMS = ["RS256"]
CLOCK_LEEWAY = 60  # seconds of clock skew allowed between the tenant and us
MAX_TOKEN_AGE = 5 * 60  # seconds: a logout token is sent at once, an older one is refused
JWKS_REFETCH_INTERVAL = 60.0  # seconds between two JWKS fetches forced by an unknown kid


@dataclass(frozen=True)
class LogoutClaims:
    """What a valid logout token says: which session (`sid`) or user (`sub`) ended."""

    issuer: str
    jti: str
    sid: str | None
    sub: str | None
    expires_at: int


def signing_algorithms(metadata: dict[str, Any]) -> list[str]:
    """The asymmetric algorithms discovery publishes for ID tokens (never `none` or HMAC)."""
    published = metadata.get("id_token_signing_alg_values_supported") or DEFAULT_ALGORITHMS
    algorithms = [alg for alg in published if alg in ASYMMETRIC_ALGORITHMS]
    return algorithms or DEFAULT_ALGORITHMS


def decode(token: str, jwks: dict[str, Any], algorithms: list[str]) -> jwt.Token:
    """The token's header and claims once its signature checks out against `jwks`."""
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidLogoutToken("The issuer's JWKS is unusable.") from exc
    try:
        return jwt.decode(token, key_set, registry=JWSRegistry(algorithms=algorithms))
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidLogoutToken(
            "The logout token is malformed or its signature is invalid."
        ) from exc


def check_claims(token: jwt.Token, issuer: str, client_id: str, now: int) -> LogoutClaims:
    """Section 2.6 steps 3-6 on a token whose signature is valid."""
    typ = token.header.get("typ")
    if typ is not None and str(typ).lower() not in ACCEPTED_TYPES:
        raise InvalidLogoutToken("The token is not a logout token (typ).")
    claims = token.claims
    issuers = [issuer, issuer.rstrip("/")]  # equal up to a trailing slash
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=CLOCK_LEEWAY,
        iss={"essential": True, "values": issuers},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidLogoutToken(f"The logout token's claims are invalid ({exc.error}).") from exc
    if claims["iat"] < now - MAX_TOKEN_AGE - CLOCK_LEEWAY:
        raise InvalidLogoutToken("The logout token was issued too long ago.")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise InvalidLogoutToken("The logout token lacks the back-channel logout event.")
    if "nonce" in claims:
        raise InvalidLogoutToken("A logout token must not contain a nonce.")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise InvalidLogoutToken("The logout token names neither a session (sid) nor a user (sub).")
    for name, value in (("sid", sid), ("sub", sub)):
        if value is not None and not (isinstance(value, str) and value):
            raise InvalidLogoutToken(f"The logout token's {name} is not a string.")
    return LogoutClaims(str(claims["iss"]), str(claims["jti"]), sid, sub, int(claims["exp"]))


class LogoutTokenVerifier:
    """Verifies logout tokens for one client of one issuer, with the issuer's current keys.

    An unknown `kid` (the tenant rotated its keys) fetches the JWKS again, at most once
    per `JWKS_REFETCH_INTERVAL`, so forged kids cannot make us hammer the tenant.
    """

    def __init__(self, issuer: str, client_id: str) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._last_refetch = float("-inf")

    async def verify(self, token: str, metadata: dict[str, Any], fetch_jwks: Any) -> LogoutClaims:
        """`fetch_jwks(force: bool)` returns the issuer's JWKS (Authlib's `fetch_jwk_set`)."""
        algorithms = signing_algorithms(metadata)
        try:
            decoded = decode(token, await fetch_jwks(force=False), algorithms)
        except InvalidKeyIdError as exc:
            if time.monotonic() - self._last_refetch < JWKS_REFETCH_INTERVAL:
                raise InvalidLogoutToken("The logout token is signed with an unknown key.") from exc
            self._last_refetch = time.monotonic()
            try:
                decoded = decode(token, await fetch_jwks(force=True), algorithms)
            except InvalidKeyIdError as again:
                raise InvalidLogoutToken(
                    "The logout token is signed with an unknown key."
                ) from again
        return check_claims(decoded, self.issuer, self.client_id, int(time.time()))
