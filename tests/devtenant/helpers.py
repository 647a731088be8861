"""Steps of the OAuth flows the dev tenant tests share."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from jose import jwt

from testing.login import submit_login_form
from testing.servers import LiveServer

APP = "http://app.test"
CALLBACK = f"{APP}/callback"
WEB = ("quickstart-web", "quickstart-web-dev-secret")
SPA = "quickstart-spa"
API = "https://quickstarts/api"
ALICE = ("alice@example.com", "alice-demo-password")
BOB = ("bob@example.com", "bob-demo-password")
FULL_SCOPE = "openid profile email offline_access read:messages"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(tenant: LiveServer, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "client_id": WEB[0],
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": FULL_SCOPE,
        "audience": API,
        "state": "the-state",
        "nonce": "the-nonce",
    }
    params.update(overrides)
    query = {name: value for name, value in params.items() if value is not None}
    return f"{tenant.url}/authorize?{urlencode(query)}"


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def login_code(
    client: httpx.AsyncClient,
    tenant: LiveServer,
    user: tuple[str, str] = ALICE,
    **params: str | None,
) -> str:
    response = await submit_login_form(client, authorize_url(tenant, **params), *user)
    query = redirect_params(response)
    assert query["state"] == params.get("state", "the-state")
    return query["code"]


async def exchange(
    client: httpx.AsyncClient, tenant: LiveServer, code: str, **extra: str
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra}
    return await client.post(f"{tenant.url}/oauth/token", data=form, auth=WEB)


async def tokens(
    client: httpx.AsyncClient, tenant: LiveServer, user: tuple[str, str] = ALICE, **params: str
) -> dict[str, Any]:
    """Log `user` in with the web client and exchange the code."""
    response = await exchange(client, tenant, await login_code(client, tenant, user, **params))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(
    client: httpx.AsyncClient, tenant: LiveServer, refresh_token: str, **extra: str
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return await client.post(f"{tenant.url}/oauth/token", data=form, auth=WEB)


async def verify_token(
    client: httpx.AsyncClient, tenant: LiveServer, token: str, audience: str
) -> dict[str, Any]:
    """Check a token as a resource server would: JWKS, RS256, issuer, audience, exp."""
    jwks = (await client.get(f"{tenant.url}/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=audience,
        issuer=f"{tenant.url}/",
        options={"require_exp": True, "require_iat": True},
    )
    return claims


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
