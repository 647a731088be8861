"""/oauth/revoke (RFC 7009): a client ends a refresh token, as Auth0's endpoint does.

Revoking any token of a refresh-token family ends the whole family: the user's grant is
gone, so neither the token presented nor any token rotated from it works again.  An
unknown token is answered 200 like a revoked one (RFC 7009 2.2), so the endpoint reveals
nothing about which tokens exist; a token issued to another client is refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from devtenant import client_auth
from devtenant.errors import NO_STORE, UnauthorizedClient
from devtenant.params import oauth_form, required
from devtenant.tenant import TenantDep

router = APIRouter()


@router.post("/oauth/revoke")
async def revoke(request: Request, tenant: TenantDep) -> Response:
    form = await oauth_form(request)
    client = client_auth.authenticate(tenant.registry, request, form)
    family, _ = tenant.grants.family_of(required(form, "token"))
    if family is not None:
        if family.client_id != client.client_id:
            raise UnauthorizedClient("The token was not issued to this client.")
        tenant.grants.revoke(family.family_id)
        await tenant.grants.save()
    return Response(status_code=200, headers=NO_STORE)
