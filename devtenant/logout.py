"""Logging out of the tenant: Auth0's /v2/logout and OIDC RP-initiated /oidc/logout.

Both end the tenant session (and tell its clients by back-channel logout), and both
redirect only to a URL the client registered as an Allowed Logout URL; anything else ends
on the tenant's own page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from jose import JWTError, jwt

from devtenant import backchannel
from devtenant.bearer import verify
from devtenant.config import Client
from devtenant.errors import BadParameters, ErrorPage, InvalidToken, redirect_with
from devtenant.params import query_params
from devtenant.tenant import SESSION_COOKIE, TEMPLATES, Tenant, TenantDep

router = APIRouter()
NOT_ALLOWED = "The logout return URL is not one of this application's Allowed Logout URLs."


def _params(request: Request) -> dict[str, str]:
    try:
        return query_params(request)
    except BadParameters as exc:
        raise ErrorPage(str(exc)) from exc


def _client(tenant: Tenant, client_id: str | None) -> Client | None:
    if client_id is None:
        return None
    client = tenant.registry.client(client_id)
    if client is None:
        raise ErrorPage("Unknown client: check the client_id the application sends.")
    return client


def _allowed(client: Client | None, url: str) -> str:
    """`url` if the client allows it (query string ignored when comparing, like Auth0)."""
    if client is None or url.split("?")[0] not in client.logout_urls:
        raise ErrorPage(NOT_ALLOWED)
    return url


async def _end_session(request: Request, tenant: Tenant, response: Response) -> Response:
    ended = tenant.grants.end_session(request.cookies.get(SESSION_COOKIE))
    if ended is not None:
        await backchannel.notify(tenant, [ended])
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def _logged_out(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "logged_out.html", {})


@router.get("/v2/logout")
async def auth0_logout(request: Request, tenant: TenantDep) -> Response:
    params = _params(request)
    client = _client(tenant, params.get("client_id"))
    return_to = params.get("returnTo")
    if return_to is None and client is not None and client.logout_urls:
        return_to = client.logout_urls[0]
    if return_to is None:
        return await _end_session(request, tenant, _logged_out(request))
    return await _end_session(request, tenant, redirect_with(_allowed(client, return_to), {}))


@router.get("/oidc/logout")
async def oidc_logout(request: Request, tenant: TenantDep) -> Response:
    params = _params(request)
    client_id = params.get("client_id")
    hint = params.get("id_token_hint")
    if hint is not None:
        try:
            claims = verify(
                tenant.keys,
                hint,
                issuer=tenant.settings.issuer,
                audience=client_id or _unverified_aud(hint),
                verify_exp=False,  # an expired ID token still says who is logging out
            )
        except InvalidToken as exc:
            raise ErrorPage("The id_token_hint is not a valid ID token from this tenant.") from exc
        client_id = str(claims["aud"])
    client = _client(tenant, client_id)
    target = params.get("post_logout_redirect_uri")
    if target is None:
        return await _end_session(request, tenant, _logged_out(request))
    extra = {"state": params["state"]} if "state" in params else {}
    return await _end_session(request, tenant, redirect_with(_allowed(client, target), extra))


def _unverified_aud(token: str) -> str:
    """The audience to check the hint against when the client did not name itself."""
    try:
        aud = jwt.get_unverified_claims(token).get("aud")
    except JWTError as exc:
        raise InvalidToken("Malformed token.") from exc
    return aud if isinstance(aud, str) else ""
