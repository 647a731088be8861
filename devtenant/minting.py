"""Minting Auth0-shaped tokens: access tokens (JWT, RS256) and ID tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from devtenant.config import User
from devtenant.tenant import Tenant

CLIENT_CREDENTIALS_GTY = "client-credentials"


@dataclass
class AccessGrant:
    """What an access token says: who, for which client and API, with which scopes."""

    sub: str
    client_id: str
    audience: str | None
    scopes: list[str]
    permissions: list[str] | None = None
    gty: str | None = None
    jkt: str | None = None  # the DPoP key the token is bound to (RFC 9449 §6.1)


def profile_claims(tenant: Tenant, user: User, scopes: list[str]) -> dict[str, Any]:
    """The OIDC claims `scopes` release, as in Auth0's ID token and /userinfo."""
    profile = tenant.users.profile(user)
    claims: dict[str, Any] = {"sub": user.user_id}
    if "profile" in scopes:
        for name in ("name", "nickname", "picture", "updated_at"):
            claims[name] = profile[name]
    if "email" in scopes:
        claims["email"] = profile["email"]
        claims["email_verified"] = profile["email_verified"]
    return claims


def access_token(tenant: Tenant, grant: AccessGrant) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    settings = tenant.settings
    lifetime = settings.devtenant_access_token_lifetime
    now = int(time.time())
    audiences = [grant.audience] if grant.audience else []
    if "openid" in grant.scopes:
        audiences.append(settings.userinfo_audience)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": grant.sub,
        # Auth0: a string for one audience, an array when /userinfo is added.
        "aud": audiences[0] if len(audiences) == 1 else audiences,
        "iat": now,
        "exp": now + lifetime,
        "scope": " ".join(grant.scopes),
        "azp": grant.client_id,
    }
    if grant.gty:
        claims["gty"] = grant.gty
    if grant.permissions is not None:
        claims["permissions"] = grant.permissions
    if grant.jkt:
        claims["cnf"] = {"jkt": grant.jkt}
    return tenant.keys.sign(claims), lifetime


def id_token(
    tenant: Tenant,
    user: User,
    client_id: str,
    scopes: list[str],
    *,
    nonce: str | None,
    sid: str,
    auth_time: int,
) -> str:
    settings = tenant.settings
    now = int(time.time())
    claims = profile_claims(tenant, user, scopes)
    claims.update(
        {
            "iss": settings.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + settings.devtenant_id_token_lifetime,
            "auth_time": auth_time,
            "sid": sid,
        }
    )
    if nonce:
        claims["nonce"] = nonce
    return tenant.keys.sign(claims)
