"""/userinfo: the logged-in user's OIDC claims for an access token meant for it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from devtenant.bearer import bearer_token, verify
from devtenant.errors import NO_STORE, InvalidToken
from devtenant.minting import profile_claims
from devtenant.params import scopes_of
from devtenant.tenant import TenantDep

router = APIRouter()


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request, tenant: TenantDep) -> JSONResponse:
    settings = tenant.settings
    claims = verify(
        tenant.keys,
        bearer_token(request),
        issuer=settings.issuer,
        audience=settings.userinfo_audience,
    )
    user = tenant.registry.user(str(claims["sub"]))
    if user is None:
        raise InvalidToken("The token's user does not exist.")
    body: dict[str, Any] = profile_claims(tenant, user, scopes_of(claims.get("scope")))
    return JSONResponse(body, headers=NO_STORE)
