"""/oauth/token: codes, PKCE, refresh rotation, other audiences, client credentials, errors."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from testing.servers import LiveServer
from testing.tenant import start_tenant
from tests.devtenant.helpers import (
    API,
    APP,
    CALLBACK,
    SPA,
    WEB,
    exchange,
    login_code,
    pkce_pair,
    refresh,
    tokens,
    verify_token,
)


async def spa_code(client: httpx.AsyncClient, tenant: LiveServer) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    code = await login_code(
        client, tenant, client_id=SPA, code_challenge=challenge, code_challenge_method="S256"
    )
    return code, verifier


async def spa_exchange(
    client: httpx.AsyncClient, tenant: LiveServer, code: str, **extra: str
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "client_id": SPA, "code": code}
    form |= {"redirect_uri": CALLBACK, **extra}
    return await client.post(f"{tenant.url}/oauth/token", data=form)


async def test_public_client_exchanges_with_the_right_verifier(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code, verifier = await spa_code(client, tenant)
    response = await spa_exchange(client, tenant, code, code_verifier=verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    claims = await verify_token(client, tenant, response.json()["access_token"], API)
    assert claims["azp"] == SPA


async def test_wrong_verifier_is_invalid_grant(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code, _ = await spa_code(client, tenant)
    wrong, _ = pkce_pair()
    response = await spa_exchange(client, tenant, code, code_verifier=wrong)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_missing_verifier_is_invalid_request(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code, _ = await spa_code(client, tenant)
    response = await spa_exchange(client, tenant, code)
    assert response.json()["error"] == "invalid_request"


async def test_confidential_client_pkce_is_honoured(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    verifier, challenge = pkce_pair()
    code = await login_code(client, tenant, code_challenge=challenge, code_challenge_method="S256")
    wrong = await exchange(client, tenant, code, code_verifier=pkce_pair()[0])
    assert wrong.json()["error"] == "invalid_grant"
    code = await login_code(client, tenant, code_challenge=challenge, code_challenge_method="S256")
    assert (await exchange(client, tenant, code, code_verifier=verifier)).status_code == 200


async def test_client_secret_post_works_and_a_wrong_secret_is_401(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code = await login_code(client, tenant)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    wrong = await client.post(
        f"{tenant.url}/oauth/token", data={**form, "client_id": WEB[0], "client_secret": "nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    code = await login_code(client, tenant)
    form = {**form, "code": code, "client_id": WEB[0], "client_secret": WEB[1]}
    assert (await client.post(f"{tenant.url}/oauth/token", data=form)).status_code == 200


async def test_code_replay_fails_and_revokes_the_refresh_token(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code = await login_code(client, tenant)
    first = await exchange(client, tenant, code)
    assert first.status_code == 200
    replay = await exchange(client, tenant, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    after = await refresh(client, tenant, first.json()["refresh_token"])
    assert after.json()["error"] == "invalid_grant"


async def test_wrong_redirect_uri_at_exchange_is_invalid_grant(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code = await login_code(client, tenant)
    response = await exchange(client, tenant, code, redirect_uri="http://app.test/other")
    assert response.json()["error"] == "invalid_grant"


async def test_no_refresh_token_without_offline_access(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant, scope="openid profile read:messages")
    assert "refresh_token" not in issued


async def test_refresh_rotates_and_reuse_revokes_the_family(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    first = (await tokens(client, tenant))["refresh_token"]
    rotated = await refresh(client, tenant, first)
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    reuse = await refresh(client, tenant, first)
    assert reuse.json()["error"] == "invalid_grant"
    revoked = await refresh(client, tenant, second)
    assert revoked.json()["error"] == "invalid_grant"


async def test_refresh_cannot_widen_scope_for_the_same_api(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant, scope="openid offline_access")
    response = await refresh(client, tenant, issued["refresh_token"], scope="read:messages")
    assert response.json()["error"] == "invalid_scope"


async def test_refresh_mints_a_management_api_token(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant)
    management = f"{tenant.url}/api/v2/"
    response = await refresh(client, tenant, issued["refresh_token"], audience=management)
    assert response.status_code == 200, response.text
    claims = await verify_token(client, tenant, response.json()["access_token"], management)
    assert "read:current_user" in claims["scope"].split()
    assert "read:messages" not in claims["scope"].split()
    too_much = await refresh(
        client, tenant, response.json()["refresh_token"], audience=management, scope="read:users"
    )
    assert too_much.json()["error"] == "invalid_scope"


async def test_outside_the_mrrt_policies_a_refresh_gets_the_logins_audience(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    tenant = start_tenant(tmp_path / "devtenant", [APP], mrrt_audiences=[API])
    try:
        issued = await tokens(client, tenant)
        management = f"{tenant.url}/api/v2/"
        response = await refresh(
            client, tenant, issued["refresh_token"], audience=management, scope="read:current_user"
        )
        assert response.status_code == 200, response.text  # silently, as at Auth0
        # The token is for the login's API, without the scope asked for another API.
        claims = await verify_token(client, tenant, response.json()["access_token"], API)
        assert "read:current_user" not in claims["scope"].split()
        allowed = await refresh(client, tenant, response.json()["refresh_token"], audience=API)
        assert allowed.status_code == 200
    finally:
        tenant.stop()


async def test_client_credentials_token(tenant: LiveServer, client: httpx.AsyncClient) -> None:
    form = {"grant_type": "client_credentials", "audience": API}
    response = await client.post(f"{tenant.url}/oauth/token", data=form, auth=WEB)
    assert response.status_code == 200, response.text
    claims = await verify_token(client, tenant, response.json()["access_token"], API)
    assert claims["sub"] == f"{WEB[0]}@clients"
    assert claims["gty"] == "client-credentials"
    public = await client.post(f"{tenant.url}/oauth/token", data={**form, "client_id": SPA})
    assert public.json()["error"] == "unauthorized_client"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


CODE_X = {"grant_type": "authorization_code", "code": "x"}
CC_UNKNOWN = {"grant_type": "client_credentials", "audience": "https://no"}


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        ({"grant_type": "password"}, basic(*WEB), 400, "unsupported_grant_type"),
        ({}, basic(*WEB), 400, "invalid_request"),
        ({"grant_type": "authorization_code"}, basic(*WEB), 400, "invalid_request"),
        (CODE_X, basic(*WEB), 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "x"}, basic(*WEB), 400, "invalid_grant"),
        (CODE_X, basic("nobody", "x"), 401, "invalid_client"),
        (CODE_X, {"Authorization": "Basic %%%"}, 401, "invalid_client"),
        (CODE_X, {}, 401, "invalid_client"),
        (CC_UNKNOWN, basic(*WEB), 403, "access_denied"),
        ({**CODE_X, "code": "x" * 10_000}, basic(*WEB), 400, "invalid_request"),
    ],
)  # fmt: skip
async def test_bad_token_requests_get_oauth_errors(
    tenant: LiveServer,
    client: httpx.AsyncClient,
    form: dict[str, str],
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    response = await client.post(f"{tenant.url}/oauth/token", data=form, headers=headers)
    assert response.status_code == status
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"grant_type=authorization_code&grant_type=refresh_token", None),
        (b"grant_type=%ff%ff", None),
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"x" * 100_000, None),
    ],
)
async def test_malformed_token_bodies_are_invalid_request(
    tenant: LiveServer, client: httpx.AsyncClient, content: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type or "application/x-www-form-urlencoded"}
    response = await client.post(f"{tenant.url}/oauth/token", content=content, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
