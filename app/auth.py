"""Login, callback and logout: the OpenID Connect code flow with PKCE, done on the server.

Authlib keeps state, nonce and the PKCE verifier in the server session between `/login` and
`/callback`; the tokens it gets back stay in the session too.  The browser only ever holds
the session cookie, which is replaced at login (no session fixation).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.integrations.starlette_client import OAuthError
from authlib.oauth2.client import DEFAULT_HEADERS
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from joserfc.errors import JoseError

from app.backchannel import link_session
from app.config import MANAGEMENT_API_SCOPE, Settings
from app.csrf import CsrfProtected
from app.deps import (
    DpopDep,
    HttpDep,
    ProviderDep,
    SessionStoreDep,
    SettingsDep,
    UserDep,
    current_user,
)
from app.dpop import DpopKey
from app.errors import AuthFlowError, IssuerMismatch, WrongAudience
from app.oidc import DISCOVERY_PATH, OidcProvider, is_auth0_domain, provider_metadata
from app.session_state import rotate_session
from app.session_tokens import REFRESH_KEY, check_audience, store_token_set, with_client_auth

router = APIRouter(tags=["auth"])
log = logging.getLogger(__name__)

RETURN_TO_KEY = "return_to"
# Characters of returnTo kept in a pending login's session: any real path fits, and a
# flood of /login calls cannot park 64 kB apiece.
MAX_RETURN_TO = 2048
STEP_UP_KEY = "step_up"  # session key: the API a logged-in user is granting access to
LOGIN_PROBE_TIMEOUT = 3.0  # seconds to wait for the tenant before showing an error page
# ID-token claims that are protocol plumbing or tie to the tenant's session: not shown.
HIDDEN_CLAIMS = frozenset({"nonce", "at_hash", "c_hash", "sid"})
MAX_TENANT_TEXT = 300  # characters of the tenant's error and description shown and logged
# Errors the tenant may send back to /callback that have their own message on /error.
PROVIDER_ERRORS = frozenset(
    {"access_denied", "login_required", "consent_required", "interaction_required"}
)


def safe_return_to(value: str | None) -> str:
    """`value` when it is a same-origin path ('/x'), else '/': never an open redirect."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\\\r\n\t") or any(ord(ch) < 0x20 for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


@router.get("/login")
async def login(
    request: Request,
    settings: SettingsDep,
    http: HttpDep,
    provider: ProviderDep,
    return_to: str | None = Query(default=None, alias="returnTo"),
) -> RedirectResponse:
    _check_return_to(return_to)  # before anything is saved
    if STEP_UP_KEY in request.session:
        del request.session[STEP_UP_KEY]  # a fresh login replaces any pending grant
    extra = {"audience": settings.auth0_audience} if settings.auth0_audience else {}
    return await _authorize(request, settings, http, provider, return_to, extra)


@router.get("/login/management")
async def grant_management_access(
    request: Request,
    settings: SettingsDep,
    http: HttpDep,
    provider: ProviderDep,
    user: UserDep,
    return_to: str | None = Query(default=None, alias="returnTo"),
) -> RedirectResponse:
    """A Management API token for the logged-in user, by a second authorization.

    Auth0 issues none by refresh (its Management API cannot be in MRRT policies).  With the
    tenant's session alive this is silent, except for Auth0's consent screen on localhost.
    """
    _check_return_to(return_to)  # before anything is saved
    audience, scope = settings.management_audience, f"openid {MANAGEMENT_API_SCOPE}"
    request.session[STEP_UP_KEY] = {"audience": audience, "scope": scope, "sub": user["sub"]}
    extra = {"audience": audience, "scope": scope}
    return await _authorize(request, settings, http, provider, return_to, extra)


def _check_return_to(return_to: str | None) -> None:
    if return_to is not None and len(return_to) > MAX_RETURN_TO:
        raise AuthFlowError("return_to_too_long")


async def _authorize(
    request: Request,
    settings: Settings,
    http: httpx.AsyncClient,
    provider: OidcProvider,
    return_to: str | None,
    extra: dict[str, str],
) -> RedirectResponse:
    """The redirect to the tenant's /authorize (PKCE, state and nonce kept by Authlib)."""
    request.session[RETURN_TO_KEY] = safe_return_to(return_to)
    try:
        await _check_tenant_answers(http, settings)
        await provider_metadata(provider, settings.issuer)  # its issuer is the configured one
        response: RedirectResponse = await provider.authorize_redirect(
            request, f"{settings.app_base_url}/callback", **extra
        )
    except IssuerMismatch as exc:
        raise AuthFlowError("issuer_mismatch", 502) from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise AuthFlowError("tenant_unavailable", 502) from exc
    return response


async def _check_tenant_answers(http: httpx.AsyncClient, settings: Settings) -> None:
    """Raise httpx.HTTPError unless the tenant's discovery document answers.

    Authlib caches discovery, so without this a down tenant would only show up as the
    browser's own connection error after the redirect; here it becomes our error page.
    """
    response = await http.get(f"{settings.issuer}{DISCOVERY_PATH}", timeout=LOGIN_PROBE_TIMEOUT)
    response.raise_for_status()


@router.get("/callback")
async def callback(
    request: Request,
    settings: SettingsDep,
    provider: ProviderDep,
    dpop: DpopDep,
    store: SessionStoreDep,
) -> RedirectResponse:
    token = await _exchange_code(request, provider, dpop, settings.issuer)
    return_to = safe_return_to(request.session.get(RETURN_TO_KEY))
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise AuthFlowError("login_failed")
    step_up = request.session.pop(STEP_UP_KEY, None)
    if isinstance(step_up, dict):
        keep_granted_token(request, token, claims, step_up)
        return RedirectResponse(return_to, status_code=303)
    session_id = rotate_session(request)  # a new session id once the user is known
    # Back-channel logout finds the session through its ID token's sid and sub.
    await link_session(
        store, session_id, settings.issuer, claims, settings.session_absolute_timeout
    )
    session = request.session
    session.clear()
    # One copy of the claims (the profile page shows them all; pages use the profile ones).
    session["user"] = {k: v for k, v in claims.items() if k not in HIDDEN_CLAIMS}
    # The ID token only where logout sends it back as id_token_hint (see logout_url): not
    # on Auth0's domains (/v2/logout), and it is a session's largest item after the access
    # token.  Discovery is cached by Authlib since the code exchange.
    if await _logout_takes_id_token(settings, provider):
        session["id_token"] = token.get("id_token", "")
    store_token_set(session, token, settings.auth0_audience)
    return RedirectResponse(return_to, status_code=303)


def keep_granted_token(
    request: Request, token: dict[str, Any], claims: dict[str, Any], step_up: dict[str, str]
) -> None:
    """Store the token of a grant for another API in the logged-in user's session.

    Only for the same user, only for the API asked for, and never its refresh token: the
    session's own refresh token (for the app's API) stays the one that is rotated.
    """
    user = current_user(request)
    if user is None or not user.get("sub") == claims["sub"] == step_up.get("sub"):
        raise AuthFlowError("other_user")
    audience = str(step_up.get("audience", ""))
    try:
        check_audience(str(token.get("access_token", "")), audience)
    except WrongAudience as exc:
        log.warning("granted token refused: %s", exc.description)
        raise AuthFlowError("wrong_audience") from exc
    granted = {key: value for key, value in token.items() if key != "refresh_token"}
    # RFC 6749 5.1: a response without `scope` granted the scope asked for.
    granted["scope"] = token.get("scope") or step_up.get("scope", "")
    store_token_set(request.session, granted, audience)


async def _exchange_code(
    request: Request, provider: OidcProvider, dpop: DpopKey | None, issuer: str
) -> dict[str, Any]:
    """The token response, with the verified ID-token claims under 'userinfo'."""
    try:
        extra = await _dpop_headers(provider, dpop, issuer)
        token: dict[str, Any] = await provider.authorize_access_token(request, **extra)
    except OAuthError as exc:
        if exc.error == "mismatching_state":
            raise AuthFlowError("state_mismatch") from exc
        code = exc.error if exc.error in PROVIDER_ERRORS else "login_failed"
        said = await _tenant_error(request, provider, exc)
        raise AuthFlowError(code, tenant_error=said) from exc
    except JoseError as exc:
        raise AuthFlowError("invalid_id_token") from exc
    except IssuerMismatch as exc:
        raise AuthFlowError("issuer_mismatch", 502) from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise AuthFlowError("tenant_unavailable", 502) from exc
    return token


async def _dpop_headers(
    provider: OidcProvider, dpop: DpopKey | None, issuer: str
) -> dict[str, Any]:
    """With AUTH0_DPOP, a proof for the token endpoint: the tokens come back DPoP-bound."""
    if dpop is None:
        return {}
    endpoint = str((await provider_metadata(provider, issuer))["token_endpoint"])
    return {"headers": {**DEFAULT_HEADERS, "DPoP": dpop.proof("POST", endpoint)}}


async def _tenant_error(
    request: Request, provider: OidcProvider, exc: OAuthError
) -> tuple[str, str] | None:
    """The tenant's (error, error_description), when the tenant is known to have sent them.

    From the token endpoint it answered us directly.  On the redirect back, anyone can put
    `?error=...` in a link, so the page repeats the tenant's words only when the `state`
    belongs to a login this browser started (which this ends).
    """
    if not exc.error:
        return None
    if "error" in request.query_params:
        state = request.query_params.get("state")
        if not state or not await provider.framework.get_state_data(request.session, state):
            return None
        await provider.framework.clear_state_data(request.session, state)
    description = " ".join(str(exc.description or "").split())
    return exc.error[:MAX_TENANT_TEXT], description[:MAX_TENANT_TEXT]


@router.post("/logout")
async def logout(
    request: Request,
    settings: SettingsDep,
    http: HttpDep,
    provider: ProviderDep,
    _csrf: CsrfProtected,
) -> RedirectResponse:
    id_token = str(request.session.get("id_token") or "")
    refresh_token = str(request.session.get(REFRESH_KEY) or "")
    request.session.clear()  # an empty session is deleted from the store, its cookie expired
    try:
        metadata = await provider_metadata(provider, settings.issuer)
    except (httpx.HTTPError, ValueError):
        metadata = {}  # provider down: the local session ends all the same
    if refresh_token:
        await revoke_refresh_token(http, settings, metadata, refresh_token)
    return RedirectResponse(logout_url(settings, metadata, id_token), status_code=303)


async def revoke_refresh_token(
    http: httpx.AsyncClient, settings: Settings, metadata: dict[str, Any], token: str
) -> None:
    """Revoke `token` at the `revocation_endpoint` discovery publishes (RFC 7009; Auth0's
    /oauth/revoke), so a copy of it is worthless after logout.  Best effort: logout goes
    on if the tenant publishes no endpoint or fails, and only the status is logged."""
    endpoint = metadata.get("revocation_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return
    form = {"token": token, "token_type_hint": "refresh_token"}
    form, headers = with_client_auth(settings, metadata, form)
    try:
        response = await http.post(endpoint, data=form, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("refresh token not revoked at logout: %s", type(exc).__name__)
        return
    if not response.is_success:
        log.warning("refresh token not revoked at logout: status %d", response.status_code)


async def _logout_takes_id_token(settings: Settings, provider: OidcProvider) -> bool:
    if is_auth0_domain(settings):
        return False
    try:
        metadata = await provider_metadata(provider, settings.issuer)
    except (httpx.HTTPError, ValueError):
        return True  # keep it: logout may still need it once the provider answers
    return isinstance(metadata.get("end_session_endpoint"), str)


def logout_url(settings: Settings, metadata: dict[str, Any], id_token: str) -> str:
    """Where the browser goes to end its session at the provider, then comes home.

    - Auth0's domains: `/v2/logout`, as Auth0's own express-openid-connect does.  Every
      tenant serves it and it checks the same Allowed Logout URLs, while `/oidc/logout` is
      published only by tenants that turned on its discovery.
    - Any provider publishing `end_session_endpoint` (the dev tenant, Keycloak, Okta, a
      custom-domain Auth0 tenant...): OpenID RP-initiated logout, with `id_token_hint` so
      the provider knows whose session ends and need not ask.
    - Otherwise nothing can end the provider's session: straight home, logged out here.
    """
    home = f"{settings.app_base_url}/"
    if is_auth0_domain(settings):
        query = {"client_id": settings.auth0_client_id, "returnTo": home}
        return f"{settings.issuer}v2/logout?{urlencode(query)}"
    endpoint = metadata.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return home
    query = {"client_id": settings.auth0_client_id, "post_logout_redirect_uri": home}
    if id_token:
        query["id_token_hint"] = id_token
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(query)}"
