"""Start-up: the lazy `app`, and one clear sentence instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import devtenant.config
import devtenant.main

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
        == "devtenant: DEVTENANT_ISSUER is invalid: it must be an http(s) URL."
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
