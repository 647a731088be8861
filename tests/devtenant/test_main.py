"""Start-up: the lazy `app`, and one clear sentence instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import uvicorn

import devtenant.__main__
import devtenant.config
import devtenant.main
from devtenant.__main__ import issuer_for_port
from devtenant.config import Settings
from testing.processes import ManagedProcess
from testing.servers import free_port
from tests.conftest import Refusal

REPO = Path(__file__).resolve().parents[2]


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-m", "devtenant", *args],
        env=environment,
        cwd=tmp_path,  # no .env there
        capture_output=True,
        text=True,
        check=False,
    )


def test_bad_setting_exits_with_one_sentence(tmp_path: Path) -> None:
    result = run_cli(tmp_path, DEVTENANT_ISSUER="ftp://example")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "devtenant: cannot start: DEVTENANT_ISSUER is invalid: it must be an http(s) URL."
    )


def test_lazy_app_exits_cleanly_on_a_bad_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEVTENANT_CONFIG_FILE", str(tmp_path / "missing.json"))
    devtenant.config.get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit, match="cannot be read"):
            _ = devtenant.main.app
    finally:
        devtenant.config.get_settings.cache_clear()


def test_rotate_keys_command(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "rotate-keys", DEVTENANT_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 0
    assert "now signing with key" in result.stdout
    assert (tmp_path / "data" / "keys.json").exists()


@pytest.fixture
def tenant_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """`python -m devtenant`, failing the test instead of serving if the settings pass."""

    def serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tenant started despite a bad setting")

    monkeypatch.setattr(uvicorn, "run", serve)
    return lambda: devtenant.__main__.main([])


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"DEVTENANT_ISSUER": "localhost:4000"}, "DEVTENANT_ISSUER"),
        ({"DEVTENANT_APP_URLS": "http://localhost:3000"}, "DEVTENANT_APP_URLS"),
        ({"DEVTENANT_APP_URLS": '{"web": "http://localhost:3000"}'}, "DEVTENANT_APP_URLS"),
        ({"DEVTENANT_ACCESS_TOKEN_LIFETIME": "0"}, "DEVTENANT_ACCESS_TOKEN_LIFETIME"),
        ({"DEVTENANT_ID_TOKEN_LIFETIME": "10h"}, "DEVTENANT_ID_TOKEN_LIFETIME"),
        ({"DEVTENANT_REFRESH_TOKEN_LIFETIME": "-1"}, "DEVTENANT_REFRESH_TOKEN_LIFETIME"),
        ({"DEVTENANT_CONFIG_FILE": "missing.json"}, "DEVTENANT_CONFIG_FILE"),
        ({"DEVTENANT_CONFIG_FILE": "."}, "DEVTENANT_CONFIG_FILE"),
    ],
)
def test_every_bad_setting_stops_start_up_with_one_sentence(
    refusal: Refusal, tenant_cli: Callable[[], None], env: dict[str, str], names: str
) -> None:
    assert names in refusal(tenant_cli, "devtenant", env)


@pytest.mark.parametrize("content", ["not json", "[]", '{"users": [{"email": 3}]}'])
def test_a_bad_config_file_stops_start_up_with_one_sentence(
    refusal: Refusal, tenant_cli: Callable[[], None], tmp_path: Path, content: str
) -> None:
    config = tmp_path / "tenant.json"
    config.write_text(content)
    env = {"DEVTENANT_CONFIG_FILE": str(config), "DEVTENANT_DATA_DIR": str(tmp_path / "data")}
    assert "DEVTENANT_CONFIG_FILE" in refusal(tenant_cli, "devtenant", env)


def test_port_implies_the_issuer_unless_devtenant_issuer_is_set() -> None:
    unset = Settings(_env_file=None)
    given = Settings(_env_file=None, devtenant_issuer="http://tenant.localhost:4000")
    assert issuer_for_port(unset, 4791).issuer == "http://localhost:4791/"
    assert issuer_for_port(given, 4791).issuer == "http://tenant.localhost:4000/"


def test_cli_port_serves_discovery_for_that_port(tmp_path: Path) -> None:
    port = free_port()
    env = {"PYTHONPATH": str(REPO), "DEVTENANT_DATA_DIR": str(tmp_path / "data")}
    tenant = ManagedProcess(
        "devtenant",
        [sys.executable, "-m", "devtenant", "--port", str(port)],
        port,
        env=env,
        ready_path="/.well-known/openid-configuration",
        cwd=tmp_path,  # no .env there
    )
    with tenant:
        discovery = httpx.get(f"{tenant.url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"http://localhost:{port}/"
    assert discovery["jwks_uri"].startswith(f"http://localhost:{port}/")
