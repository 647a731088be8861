"""Checking the tenant's own access tokens when they come back as Bearer tokens."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from jose import JWTError, jwt

from devtenant.errors import InvalidToken
from devtenant.keys import ALGORITHM, KeyRing

BEARER = "bearer "
REQUIRED_CLAIMS = {"require_exp": True, "require_iat": True, "require_sub": True}


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith(BEARER) or not header[len(BEARER) :].strip():
        raise InvalidToken("Missing Bearer access token.")
    return header[len(BEARER) :].strip()


def public_key(keys: KeyRing, token: str) -> dict[str, Any]:
    """The published key named by the token's kid."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except JWTError as exc:
        raise InvalidToken("Malformed token.") from exc
    key: dict[str, Any] | None = next((k for k in keys.jwks()["keys"] if k["kid"] == kid), None)
    if key is None:
        raise InvalidToken("Token signed with an unknown key.")
    return key


def verify(
    keys: KeyRing, token: str, *, issuer: str, audience: str, verify_exp: bool = True
) -> dict[str, Any]:
    """The token's claims once signature, issuer, audience and expiry check out."""
    key = public_key(keys, token)
    options = {**REQUIRED_CLAIMS, "verify_exp": verify_exp}
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=audience, issuer=issuer, options=options
        )
    except JWTError as exc:
        raise InvalidToken("Invalid or expired token.") from exc
    return claims
