"""Start-up: the lazily built `app.main:app` and its one-sentence refusal of bad settings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import app.main
from app.config import Settings
from app.errors import InvalidAllowList
from app.main import create_app
from serving.__main__ import main as serve
from tests.conftest import Refusal

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
    message = [line for line in lines if line.startswith("app: cannot start:")]
    assert message == [
        "app: cannot start: AUTH0_ISSUER_BASE_URL must use https:// "
        "(http:// only for localhost): 'http://tenant.example.com/'."
    ]
    assert "Traceback" not in result.stderr


def test_real_tenant_without_session_secret_is_refused(tmp_path: Path) -> None:
    result = import_app(tmp_path, AUTH0_DOMAIN="example.eu.auth0.com")
    assert result.returncode == 1
    assert "SESSION_SECRET must be at least 32 bytes with a real tenant" in result.stderr
    assert "Traceback" not in result.stderr


def test_defaults_build_the_app(tmp_path: Path) -> None:
    assert import_app(tmp_path).returncode == 0


def test_an_unsafe_allow_list_entry_fails_create_app_not_the_lifespan() -> None:
    settings = Settings(_env_file=None, allowed_list=["https://api.example.com*"])
    with pytest.raises(InvalidAllowList, match=r"api\.example\.com"):
        create_app(settings)


SECRET = "s3cret-for-the-test-0123456789abcdef"  # 36 bytes: enough for a real tenant
REAL_TENANT = {"AUTH0_DOMAIN": "example.eu.auth0.com", "SESSION_SECRET": SECRET}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"AUTH0_ISSUER_BASE_URL": "http://tenant.example.com/"}, "https://"),
        ({"AUTH0_DOMAIN": "example.eu.auth0.com"}, "SESSION_SECRET"),
        # A real tenant's session cookie must not be signed with a guessable secret.
        ({**REAL_TENANT, "SESSION_SECRET": "s3cret"}, "SESSION_SECRET must be at least 32 bytes"),
        # .env.example's dev-tenant issuer left in beside a real domain: say which to delete.
        (
            {**REAL_TENANT, "AUTH0_ISSUER_BASE_URL": "http://localhost:4000/"},
            "delete the AUTH0_ISSUER_BASE_URL line",
        ),
        ({**REAL_TENANT, "AUTH0_DOMAIN": "http://example.eu.auth0.com"}, "AUTH0_DOMAIN"),
        ({**REAL_TENANT, "AUTH0_DOMAIN": "example.eu.auth0.com/login"}, "AUTH0_DOMAIN"),
        ({"APP_BASE_URL": "localhost:3000"}, "APP_BASE_URL"),
        ({"API_BASE_URL": "ftp://localhost:3001"}, "API_BASE_URL"),
        ({"SESSION_IDLE_TIMEOUT": "0"}, "SESSION_IDLE_TIMEOUT"),
        ({"SESSION_ABSOLUTE_TIMEOUT": "a week"}, "SESSION_ABSOLUTE_TIMEOUT"),
        ({"SESSION_MAX_MEMORY": "-5"}, "SESSION_MAX_MEMORY"),
        ({"SESSION_STORE_URL": "postgres://user:s3cret@db/0"}, "SESSION_STORE_URL"),
        ({"ALLOWED_LIST": "https://api.example.com/*"}, "ALLOWED_LIST"),
        ({"ALLOWED_LIST": '{"uri": "https://api.example.com/*"}'}, "ALLOWED_LIST"),
        ({"ALLOWED_LIST": '["https://api.example.com*"]'}, "Allow-list entry"),
        ({**REAL_TENANT, "ALLOWED_LIST": '[{"uri": "https://a.test/x", "to": 1}]'}, "unknown"),
    ],
)
def test_every_bad_setting_stops_start_up_with_one_sentence(
    refusal: Refusal, env: dict[str, str], names: str
) -> None:
    sentence = refusal(lambda: app.main.app, "app", env)
    assert names in sentence
    assert "s3cret" not in sentence  # a password in a URL, the session secret


@pytest.mark.parametrize(
    "domain",
    ["example.eu.auth0.com", "https://example.eu.auth0.com", " https://example.eu.auth0.com/ "],
)
def test_a_pasted_scheme_or_slash_in_auth0_domain_is_dropped(domain: str) -> None:
    settings = Settings(_env_file=None, auth0_domain=domain, session_secret=SECRET)
    assert settings.issuer == "https://example.eu.auth0.com/"


def test_domain_and_issuer_may_both_be_set_when_they_agree() -> None:
    settings = Settings(
        _env_file=None,
        auth0_domain="example.eu.auth0.com",
        auth0_issuer_base_url="https://example.eu.auth0.com",
        session_secret=SECRET,
    )
    assert settings.issuer == "https://example.eu.auth0.com/"


async def test_start_up_logs_issuer_audience_and_store_kind_never_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app")
    settings = Settings(
        _env_file=None,
        auth0_domain="example.eu.auth0.com",
        session_secret=SECRET,
        auth0_client_secret="client-s3cret",
        session_store_url="redis://user:redis-s3cret@localhost:1/0",
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        pass
    lines = [r.getMessage() for r in caplog.records if r.name == "app"]
    assert lines == [
        "web app: issuer https://example.eu.auth0.com/, audience https://quickstarts/api, "
        "session store redis"
    ]
    assert "s3cret" not in caplog.text


SECRET_ENV = {"SESSION_SECRET": "s3cret-for-the-test"}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({**SECRET_ENV, "WEB_CONCURRENCY": "2"}, "WEB_CONCURRENCY=2 needs a session store"),
        ({"WEB_CONCURRENCY": "3", "SESSION_STORE_URL": "redis://127.0.0.1:1/0"}, "SESSION_SECRET"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY is invalid"),
    ],
)
@pytest.mark.parametrize("entry", ["python -m serving", "uvicorn app.main:app"])
def test_several_workers_need_redis_and_one_secret(
    refusal: Refusal, env: dict[str, str], names: str, entry: str
) -> None:
    # python -m serving imports the app before it starts any worker, so it refuses once;
    # uvicorn reads WEB_CONCURRENCY too, and each worker it starts refuses the same way.
    command = ["app.main:app", "--port", "1"]  # never served: the settings fail first
    start = (lambda: serve(command)) if entry == "python -m serving" else (lambda: app.main.app)
    sentence = refusal(start, "app", env)
    assert names in sentence
    assert "s3cret" not in sentence
