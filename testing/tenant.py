"""The dev tenant as a live server, and the code flow scripted without the app."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from devtenant.config import Settings
from devtenant.main import create_app
from testing.login import submit_login_form
from testing.servers import LiveServer, free_port

FLOW_TIMEOUT = 30.0  # seconds for each request of a scripted login


def start_tenant(data_dir: Path, app_urls: list[str], **settings_overrides: Any) -> LiveServer:
    """A started dev tenant on a free port, issuer http://127.0.0.1:{port}/."""
    port = free_port()
    settings = Settings(
        _env_file=None,
        devtenant_issuer=f"http://127.0.0.1:{port}/",
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
