"""Which client may get a user's token for which API: the Management API is first-party only."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from devtenant.config import Settings, SettingsError, load_registry
from testing.servers import LiveServer
from tests.devtenant.helpers import SPA, authorize_url, login_code, pkce_pair, refresh, tokens


def management(tenant: LiveServer) -> str:
    return f"{tenant.url}/api/v2/"


async def test_a_public_client_cannot_ask_authorize_for_the_management_api(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(
        tenant,
        client_id=SPA,
        audience=management(tenant),
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    response = await client.get(url)
    assert response.status_code == 302
    assert "error=access_denied" in response.headers["location"]
    assert "code=" not in response.headers["location"]


async def test_a_public_clients_refresh_token_cannot_mint_management_tokens(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    verifier, challenge = pkce_pair()
    code = await login_code(
        client, tenant, client_id=SPA, code_challenge=challenge, code_challenge_method="S256"
    )
    form = {"grant_type": "authorization_code", "client_id": SPA, "code": code}
    form |= {"redirect_uri": "http://app.test/callback", "code_verifier": verifier}
    issued = (await client.post(f"{tenant.url}/oauth/token", data=form)).json()
    stolen = {"grant_type": "refresh_token", "client_id": SPA}
    stolen |= {"refresh_token": issued["refresh_token"], "audience": management(tenant)}
    response = await client.post(f"{tenant.url}/oauth/token", data=stolen)
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"


async def test_the_web_client_still_gets_current_user_scopes_only(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant)
    response = await refresh(client, tenant, issued["refresh_token"], audience=management(tenant))
    assert response.status_code == 200
    assert set(response.json()["scope"].split()) >= {"read:current_user"}
    wider = await refresh(
        client,
        tenant,
        response.json()["refresh_token"],
        audience=management(tenant),
        scope="read:users",
    )
    assert wider.json()["error"] == "invalid_scope"


def test_a_management_api_with_other_than_current_user_scopes_is_refused(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)
    config = tmp_path / "tenant.json"
    api = {"identifier": settings.management_audience, "scopes": ["read:users"]}
    config.write_text(json.dumps({"apis": [api]}))
    with pytest.raises(SettingsError, match="only current_user scopes"):
        load_registry(settings.model_copy(update={"devtenant_config_file": config}))
