"""Settings defaults, stable user ids, and the JSON config file (here: an RBAC API)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from devtenant.config import Settings, SettingsError, default_registry, load_registry
from testing.tenant import start_tenant
from tests.devtenant.helpers import APP, tokens, verify_token

RBAC_API = "https://rbac/api"


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[arg-type]


def test_defaults_match_contributing() -> None:
    registry = default_registry(settings())
    web = registry.client("quickstart-web")
    assert web is not None
    assert web.callbacks == ["http://localhost:3000/callback", "http://127.0.0.1:3000/callback"]
    assert web.logout_urls == ["http://localhost:3000/", "http://127.0.0.1:3000/"]
    spa = registry.client("quickstart-spa")
    assert spa is not None
    assert spa.is_public
    assert registry.api("http://localhost:4000/api/v2/") is not None
    assert all(re.fullmatch(r"auth0\|[0-9a-f]{24}", user.user_id) for user in registry.users)


def test_user_ids_are_stable() -> None:
    first = default_registry(settings()).users[0].user_id
    assert default_registry(settings()).users[0].user_id == first


def test_issuer_gets_a_trailing_slash() -> None:
    assert settings(devtenant_issuer="http://127.0.0.1:9").issuer == "http://127.0.0.1:9/"


@pytest.mark.parametrize("content", ["not json", "[]", '{"users": 3}'])
def test_a_bad_config_file_is_one_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tenant.json"
    path.write_text(content)
    with pytest.raises(SettingsError, match="DEVTENANT_CONFIG_FILE"):
        load_registry(settings(devtenant_config_file=path))


def rbac_config(path: Path) -> Path:
    alice = {
        "email": "alice@example.com",
        "password": "alice-demo-password",
        "permissions": {RBAC_API: ["read:reports"]},
    }
    apis = [{"identifier": RBAC_API, "scopes": ["read:reports", "delete:reports"], "rbac": True}]
    path.write_text(json.dumps({"apis": apis, "users": [alice]}))
    return path


async def test_rbac_api_limits_scopes_to_permissions(tmp_path: Path) -> None:
    config = rbac_config(tmp_path / "tenant.json")
    tenant = start_tenant(tmp_path / "data", [APP], devtenant_config_file=config)
    try:
        async with httpx.AsyncClient() as client:
            issued = await tokens(
                client, tenant, audience=RBAC_API, scope="openid read:reports delete:reports"
            )
            claims = await verify_token(client, tenant, issued["access_token"], RBAC_API)
    finally:
        tenant.stop()
    assert claims["permissions"] == ["read:reports"]
    assert claims["scope"] == "openid read:reports"
