"""The dev tenant as a live server, and the code flow scripted without the app."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from devtenant.config import RefreshTokenPolicy, Settings, default_registry
from devtenant.main import create_app
from testing.login import submit_login_form
from testing.servers import LiveServer, free_port

FLOW_TIMEOUT = 30.0  # seconds for each request of a scripted login


def mrrt_config_file(
    data_dir: Path, issuer: str, app_urls: list[str], audiences: list[str]
) -> Path:
    """A DEVTENANT_CONFIG_FILE whose clients have Auth0's `refresh_token.policies` for just
    `audiences`: a refresh for any other audience then gets a token for the login's audience,
    as at Auth0 (where the Management API can never be in the list)."""
    defaults = Settings(_env_file=None, devtenant_issuer=issuer, devtenant_app_urls=app_urls)
    clients = default_registry(defaults).clients
    policies = [RefreshTokenPolicy(audience=audience) for audience in audiences]
    for client in clients:
        client.refresh_token_policies = policies
    path = data_dir.parent / f"{data_dir.name}-mrrt.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"clients": [client.model_dump() for client in clients]}))
    return path


def start_tenant(
    data_dir: Path,
    app_urls: list[str],
    mrrt_audiences: list[str] | None = None,
    **settings_overrides: Any,
) -> LiveServer:
    """A started dev tenant on a free port, issuer http://127.0.0.1:{port}/.

    `mrrt_audiences`: the only APIs a refresh may switch to (see `mrrt_config_file`).
    """
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/"
    if mrrt_audiences is not None:
        config = mrrt_config_file(data_dir, issuer, app_urls, mrrt_audiences)
        settings_overrides["devtenant_config_file"] = config
    settings = Settings(
        _env_file=None,
        devtenant_issuer=issuer,
        devtenant_data_dir=data_dir,
        devtenant_app_urls=app_urls,
        **settings_overrides,
    )
    return LiveServer(create_app(settings), port=port).start()


async def code_flow(
    issuer: str,
    client_auth: tuple[str, str],
    redirect_uri: str,
    scope: str,
    audience: str,
    email: str,
    password: str,
) -> dict[str, Any]:
    """A token response for a user, by the code flow with PKCE S256 that the app runs."""
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client_auth[0],
        "redirect_uri": redirect_uri,
        "scope": scope,
        "audience": audience,
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient(timeout=FLOW_TIMEOUT) as client:
        back = await submit_login_form(
            client, str(httpx.URL(f"{issuer}authorize", params=params)), email, password
        )
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        response = await client.post(f"{issuer}oauth/token", data=form, auth=client_auth)
    assert response.status_code == 200, response.text
    return dict(response.json())
