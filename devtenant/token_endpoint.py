"""/oauth/token: authorization_code (with PKCE), refresh_token (rotation, reuse detection,
other audiences like Auth0's multi-resource refresh tokens) and client_credentials.

With a valid DPoP proof (devtenant.dpop) every grant issues DPoP-bound access tokens, and
a public client's refresh tokens are bound to the same key (RFC 9449 §5.8): whoever steals
one cannot refresh without the private key.  Confidential clients authenticate anyway, so
their refresh tokens stay unbound and may move to a new key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from devtenant import client_auth
from devtenant.config import Client, User
from devtenant.errors import (
    NO_STORE,
    AccessDenied,
    InvalidDpopProof,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from devtenant.minting import CLIENT_CREDENTIALS_GTY, AccessGrant, access_token, id_token
from devtenant.params import oauth_form, required, scopes_of
from devtenant.refresh_families import RefreshFamily
from devtenant.scopes import (
    NOT_AUTHORIZED,
    OIDC_SCOPES,
    api_scopes_for,
    exceeding,
    lookup,
    may_request,
    resolve,
)
from devtenant.tenant import Tenant, TenantDep

Body = dict[str, Any]
router = APIRouter()


def verify_pkce(challenge: str | None, verifier: str | None) -> None:
    """RFC 7636 S256 check, using Authlib's challenge helpers."""
    if challenge is None:
        if verifier is not None:
            raise InvalidGrant("code_verifier was sent but the authorization had no challenge.")
        return
    if not verifier:
        raise InvalidRequest("Missing required parameter: code_verifier")
    if not CODE_VERIFIER_PATTERN.match(verifier):
        raise InvalidRequest("code_verifier is malformed.")
    if not hmac.compare_digest(create_s256_code_challenge(verifier), challenge):
        raise InvalidGrant("Failed to verify code_verifier.")


def tokens_for(
    tenant: Tenant,
    client: Client,
    user: User,
    family: RefreshFamily,
    *,
    audience: str | None,
    scopes: list[str],
    nonce: str | None,
    refresh_token: str | None,
    jkt: str | None,
) -> Body:
    api = lookup(tenant.registry, audience)
    permissions = resolve(api, user, []).permissions
    grant = AccessGrant(user.user_id, client.client_id, audience, scopes, permissions, jkt=jkt)
    token, lifetime = access_token(tenant, grant)
    body: Body = {
        "access_token": token,
        "token_type": token_type(jkt),
        "expires_in": lifetime,
        "scope": " ".join(scopes),
    }
    if "openid" in scopes:
        body["id_token"] = id_token(
            tenant,
            user,
            client.client_id,
            scopes,
            nonce=nonce,
            sid=family.sid,
            auth_time=family.auth_time,
        )
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return body


def token_type(jkt: str | None) -> str:
    return "DPoP" if jkt else "Bearer"


def _user(tenant: Tenant, user_id: str) -> User:
    user = tenant.registry.user(user_id)
    if user is None:
        raise InvalidGrant("The user no longer exists.")
    return user


def authorization_code(
    tenant: Tenant, client: Client, form: dict[str, str], jkt: str | None
) -> Body:
    code = tenant.grants.code(required(form, "code"))
    if code is None or code.request.client_id != client.client_id:
        raise InvalidGrant("Invalid authorization code.")
    if code.used:
        # A replayed code means it leaked: revoke what its first use issued (RFC 6749 4.1.2).
        tenant.grants.revoke(code.family_id)
        raise InvalidGrant("Invalid authorization code.")
    code.used = True
    if form.get("redirect_uri") != code.request.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the one used at /authorize.")
    verify_pkce(code.request.code_challenge, form.get("code_verifier"))
    user = _user(tenant, code.user_id)
    family, refresh = tenant.grants.start_family(code)
    if client.is_public:
        family.jkt = jkt
    offline = "offline_access" in code.request.scopes
    if not offline:
        tenant.grants.revoke(family.family_id)  # kept only so a replay has something to revoke
    return tokens_for(
        tenant,
        client,
        user,
        family,
        audience=code.request.audience,
        scopes=code.request.scopes,
        nonce=code.request.nonce,
        refresh_token=refresh if offline else None,
        jkt=jkt,
    )


def _refresh_scopes(
    tenant: Tenant, client: Client, family: RefreshFamily, user: User, form: dict[str, str]
) -> tuple[str | None, list[str]]:
    """The audience and scopes of the refreshed access token."""
    audience = form.get("audience") or family.audience
    requested = scopes_of(form.get("scope"))
    if audience and audience != family.audience and not client.refresh_may_switch_to(audience):
        # As Auth0 does outside the MRRT policies: ignore the audience, without an error.
        audience, requested = family.audience, [s for s in requested if s in family.scopes]
    if audience == family.audience:
        extra = [scope for scope in requested if scope not in family.scopes]
        scopes = requested or family.scopes
    else:
        api = lookup(tenant.registry, audience)
        if api is None:
            raise AccessDenied("Service not found: the audience is not a registered API.")
        if not may_request(client, api, tenant.settings.management_audience):
            raise AccessDenied(NOT_AUTHORIZED)
        if not requested:
            oidc = [scope for scope in family.scopes if scope in OIDC_SCOPES]
            requested = oidc + api_scopes_for(api, user)
        extra = exceeding(api, user, family.scopes, requested)
        scopes = requested
    if extra:
        raise InvalidScope(f"Scope not allowed: {' '.join(extra)[:200]}")
    return audience, scopes


def refresh_token(tenant: Tenant, client: Client, form: dict[str, str], jkt: str | None) -> Body:
    family, is_current = tenant.grants.family_of(required(form, "refresh_token"))
    if family is None or family.client_id != client.client_id or family.revoked:
        raise InvalidGrant("Unknown or invalid refresh token.")
    if not is_current:
        # A rotated token came back: someone holds a stolen copy, so end the whole family.
        tenant.grants.revoke(family.family_id)
        raise InvalidGrant("Unknown or invalid refresh token.")
    if family.jkt and jkt is None:
        raise InvalidDpopProof("This refresh token is DPoP-bound: send a DPoP proof.")
    if family.jkt and jkt != family.jkt:
        raise InvalidGrant("The refresh token is bound to another DPoP key.")
    user = _user(tenant, family.user_id)
    audience, scopes = _refresh_scopes(tenant, client, family, user, form)
    return tokens_for(
        tenant,
        client,
        user,
        family,
        audience=audience,
        scopes=scopes,
        nonce=None,
        refresh_token=tenant.grants.rotate(family),
        jkt=jkt,
    )


def client_credentials(
    tenant: Tenant, client: Client, form: dict[str, str], jkt: str | None
) -> Body:
    if client.is_public:
        raise UnauthorizedClient("Public clients cannot use client_credentials.")
    audience = required(form, "audience")
    api = tenant.registry.api(audience)
    allowed = client.client_grants.get(audience)
    if api is None or allowed is None:
        raise AccessDenied(NOT_AUTHORIZED)
    scopes = scopes_of(form.get("scope")) or list(allowed)
    extra = [scope for scope in scopes if scope not in allowed]
    if extra:
        raise InvalidScope(f"Scope not allowed: {' '.join(extra)[:200]}")
    permissions = scopes if api.rbac else None
    grant = AccessGrant(
        f"{client.client_id}@clients",
        client.client_id,
        audience,
        scopes,
        permissions,
        gty=CLIENT_CREDENTIALS_GTY,
        jkt=jkt,
    )
    token, lifetime = access_token(tenant, grant)
    return {
        "access_token": token,
        "token_type": token_type(jkt),
        "expires_in": lifetime,
        "scope": " ".join(scopes),
    }


GRANTS: dict[str, Callable[[Tenant, Client, dict[str, str], str | None], Body]] = {
    "authorization_code": authorization_code,
    "refresh_token": refresh_token,
    "client_credentials": client_credentials,
}


@router.post("/oauth/token")
async def token(request: Request, tenant: TenantDep) -> JSONResponse:
    form = await oauth_form(request)
    grant = GRANTS.get(required(form, "grant_type"))
    if grant is None:
        raise UnsupportedGrantType("Unsupported grant_type.")
    client = client_auth.authenticate(tenant.registry, request, form)
    jkt = tenant.dpop.thumbprint(request)  # after client authentication: no free replay slots
    try:
        body = grant(tenant, client, form, jkt)
    finally:
        # Saved before answering, revocations included (they end in an error), so a token
        # a client received, and a family revoked for reuse, both survive a restart.
        await tenant.grants.save()
    return JSONResponse(body, headers=NO_STORE)
