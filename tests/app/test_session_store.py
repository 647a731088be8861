"""Choosing a store by SESSION_STORE_URL, and the record's encoding both stores share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.errors import SettingsError
from app.memory_store import MemorySessionStore
from app.redis_store import RedisSessionStore
from app.session_store import create_session_store

ROOT = Path(__file__).resolve().parents[2]


def test_create_session_store_picks_by_scheme() -> None:
    memory = create_session_store(Settings(_env_file=None, session_max_memory=7))
    assert isinstance(memory, MemorySessionStore)
    assert memory.max_sessions == 7
    redis = create_session_store(
        Settings(_env_file=None, session_store_url="redis://127.0.0.1:1/0")
    )
    assert isinstance(redis, RedisSessionStore)


def test_unknown_scheme_is_a_clear_error_without_the_password() -> None:
    settings = Settings(_env_file=None, session_store_url="postgres://me:hunter2@db/sessions")
    with pytest.raises(SettingsError, match="SESSION_STORE_URL") as caught:
        create_session_store(settings)
    assert "hunter2" not in str(caught.value)
    assert "postgres" in str(caught.value)


def test_a_memory_store_app_never_imports_redis(tmp_path: Path) -> None:
    # redis-py is some 6 MB of RSS and 0.1 s of start-up: only a Redis store loads it.
    code = (
        "import sys, app.main; app.main.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,  # no .env: the defaults, SESSION_STORE_URL=memory://
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"
