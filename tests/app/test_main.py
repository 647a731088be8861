"""Start-up: the lazily built `app.main:app` and its one-sentence refusal of bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def import_app(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import `app.main:app` in a fresh interpreter, in a directory with no .env."""
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", "import app.main; app.main.app"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_issuer_stops_start_up_with_one_sentence(tmp_path: Path) -> None:
    result = import_app(tmp_path, AUTH0_ISSUER_BASE_URL="http://tenant.example.com/")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "Warning" not in line]
    message = [line for line in lines if line.startswith("Cannot start the web app:")]
    assert message == [
        "Cannot start the web app: AUTH0_ISSUER_BASE_URL must use https:// "
        "(http:// only for localhost): http://tenant.example.com/"
    ]
    assert "Traceback" not in result.stderr


def test_real_tenant_without_session_secret_is_refused(tmp_path: Path) -> None:
    result = import_app(tmp_path, AUTH0_DOMAIN="example.eu.auth0.com")
    assert result.returncode == 1
    assert "SESSION_SECRET is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_defaults_build_the_app(tmp_path: Path) -> None:
    assert import_app(tmp_path).returncode == 0
