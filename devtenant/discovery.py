"""Public documents: OpenID discovery, the JWKS, the home page and users' avatars."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from devtenant.dpop import ALGORITHMS as DPOP_ALGORITHMS
from devtenant.errors import ErrorPage
from devtenant.keys import ALGORITHM
from devtenant.scopes import OIDC_SCOPES
from devtenant.tenant import TEMPLATES, TenantDep
from devtenant.users import avatar_svg

DISCOVERY_CACHE = {"Cache-Control": "max-age=15"}  # what Auth0 sends
AVATAR_CACHE = {"Cache-Control": "public, max-age=86400"}
CLAIMS = [
    "aud", "auth_time", "email", "email_verified", "exp", "iat", "iss", "name",
    "nickname", "nonce", "picture", "sid", "sub", "updated_at",
]  # fmt: skip

router = APIRouter()


def configuration(issuer: str, api_scopes: list[str]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}authorize",
        "token_endpoint": f"{issuer}oauth/token",
        "userinfo_endpoint": f"{issuer}userinfo",
        "jwks_uri": f"{issuer}.well-known/jwks.json",
        "end_session_endpoint": f"{issuer}oidc/logout",
        "revocation_endpoint": f"{issuer}oauth/revoke",
        "scopes_supported": [*OIDC_SCOPES, *api_scopes],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": DPOP_ALGORITHMS,
        "claims_supported": CLAIMS,
        "request_uri_parameter_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


@router.get("/.well-known/openid-configuration")
async def openid_configuration(tenant: TenantDep) -> JSONResponse:
    api_scopes = sorted({scope for api in tenant.registry.apis for scope in api.scopes})
    body = configuration(tenant.settings.issuer, api_scopes)
    return JSONResponse(body, headers=DISCOVERY_CACHE)


@router.get("/.well-known/jwks.json")
async def jwks(tenant: TenantDep) -> JSONResponse:
    return JSONResponse(tenant.keys.jwks(), headers=DISCOVERY_CACHE)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, tenant: TenantDep) -> Response:
    context = {"issuer": tenant.settings.issuer, "users": tenant.registry.users}
    return TEMPLATES.TemplateResponse(request, "home.html", context)


@router.get("/avatars/{name}.svg")
async def avatar(name: str, tenant: TenantDep) -> Response:
    user = tenant.users.user_by_avatar(name)
    if user is None:
        raise ErrorPage("No such avatar.", status_code=404)
    return Response(avatar_svg(user), media_type="image/svg+xml", headers=AVATAR_CACHE)
