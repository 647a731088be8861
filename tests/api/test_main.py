"""Start-up checks, OpenAPI, security headers, CORS and logging of the API app."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import api.main
from api.config import Settings
from testing.issuer import TestIssuer
from tests.conftest import Refusal

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auth0_audience": ""}, "AUTH0_AUDIENCE is missing"),
        ({"auth0_audience": "YOUR_API_IDENTIFIER"}, "placeholder"),
        ({"auth0_audience": "{yourApiIdentifier}"}, "placeholder"),
        ({"auth0_issuer_base_url": "", "auth0_domain": ""}, "AUTH0_DOMAIN"),
        ({"auth0_issuer_base_url": "http://tenant.example.com/"}, "https://"),
        ({"algorithms": "RS256,HS256"}, "asymmetric"),
        ({"algorithms": "none"}, "asymmetric"),
    ],
)
def test_settings_refuse_unsafe_or_missing_values(overrides: dict[str, Any], message: str) -> None:
    values = {
        "auth0_issuer_base_url": "https://tenant.example.com",
        "auth0_audience": "https://quickstarts/api",
        **overrides,
    }
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **values)


@pytest.mark.parametrize("domain", ["t.us.auth0.com", "https://t.us.auth0.com/"])
def test_domain_gives_auth0_issuer_with_trailing_slash(domain: str) -> None:
    settings = Settings(_env_file=None, auth0_domain=domain, auth0_audience="a")
    assert settings.issuer == "https://t.us.auth0.com/"


def test_uvicorn_entry_point_exits_with_one_sentence_without_audience(tmp_path: Path) -> None:
    env = {**os.environ, "AUTH0_ISSUER_BASE_URL": "http://localhost:4000/", "AUTH0_AUDIENCE": ""}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); import api.main; api.main.app",
        ],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("api: cannot start: AUTH0_AUDIENCE is missing")
    assert "Traceback" not in result.stderr


ISSUER = {"AUTH0_ISSUER_BASE_URL": "https://tenant.example.com/"}
AUDIENCE = {"AUTH0_AUDIENCE": "https://quickstarts/api"}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({**ISSUER}, "AUTH0_AUDIENCE"),
        ({**ISSUER, "AUTH0_AUDIENCE": "YOUR_API_IDENTIFIER"}, "AUTH0_AUDIENCE"),
        ({**AUDIENCE}, "AUTH0_DOMAIN or AUTH0_ISSUER_BASE_URL"),
        ({**AUDIENCE, "AUTH0_ISSUER_BASE_URL": "http://tenant.example.com/"}, "https://"),
        ({**ISSUER, **AUDIENCE, "ALGORITHMS": "RS256,HS256"}, "ALGORITHMS"),
        # .env.example's dev-tenant issuer left in beside a real domain: say which to delete.
        (
            {
                **AUDIENCE,
                "AUTH0_DOMAIN": "t.us.auth0.com",
                "AUTH0_ISSUER_BASE_URL": "http://localhost:4000/",
            },
            "delete the AUTH0_ISSUER_BASE_URL line",
        ),
        ({**AUDIENCE, "AUTH0_DOMAIN": "http://t.us.auth0.com"}, "AUTH0_DOMAIN"),
        ({**ISSUER, **AUDIENCE, "CLOCK_TOLERANCE": "3600"}, "CLOCK_TOLERANCE"),
        ({**ISSUER, **AUDIENCE, "CACHE_MAX_AGE": "soon"}, "CACHE_MAX_AGE"),
        ({**ISSUER, **AUDIENCE, "JWKS_COOLDOWN": "-1"}, "JWKS_COOLDOWN"),
        ({**ISSUER, **AUDIENCE, "HTTP_TIMEOUT": "0"}, "HTTP_TIMEOUT"),
        ({**ISSUER, **AUDIENCE, "ISSUER_RETRY_AFTER": "0"}, "ISSUER_RETRY_AFTER"),
        ({**ISSUER, **AUDIENCE, "AUTH0_SCOPES_FROM_PERMISSIONS": "maybe"}, "PERMISSIONS"),
        ({**ISSUER, **AUDIENCE, "CORS_ALLOWED_ORIGINS": "[oops"}, "CORS_ALLOWED_ORIGINS"),
        # A browser's Origin has no path: with the slash, this origin would never match.
        ({**ISSUER, **AUDIENCE, "CORS_ALLOWED_ORIGINS": "http://a.test/"}, "CORS_ALLOWED_ORIGINS"),
    ],
)
def test_every_bad_setting_stops_start_up_with_one_sentence(
    refusal: Refusal, env: dict[str, str], names: str
) -> None:
    assert names in refusal(lambda: api.main.app, "api", env)


async def test_openapi_documents_bearer_auth_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    responses = spec["paths"]["/api/private-scoped"]["get"]["responses"]
    assert {"401", "403"} <= set(responses)
    assert "security" not in spec["paths"]["/api/public"]["get"]


async def test_security_headers_like_helmet(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/public")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_cors_allows_the_app_origin_only(client: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = await client.options(
        "/api/private", headers={"Origin": "http://localhost:3000", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused = await client.options(
        "/api/private", headers={"Origin": "http://localhost:3000.evil.test", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_one_log_line_per_request_and_never_the_token(
    client: httpx.AsyncClient, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token()
    with caplog.at_level(logging.INFO, logger="api"):
        await client.get("/api/private", params={"access_token": token})
        await client.get("/api/private", headers={"Authorization": "Bearer garbage.x.y"})
    access = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert len(access) == 2
    assert access[0].startswith('"GET /api/private" 200')
    assert access[1].startswith('"GET /api/private" 401')
    everything = " ".join(r.getMessage() for r in caplog.records)
    assert token not in everything
    assert "garbage" not in everything
