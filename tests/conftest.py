"""Fixtures shared by every test package.

Tests that need a service the machine may lack (Chromium, redis-server, node) must
not silently skip in CI: `require()` skips locally with a reason but fails when
the CI environment variable is set.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import api.config
import app.config
import devtenant.config
from testing.redis_server import RedisServer

SERVICE_CONFIGS = (api.config, app.config, devtenant.config)
SECOND_SENTENCE = re.compile(r"[.;!?]\s+[A-Z]")


def require(executable: str, why: str) -> str:
    """Path of `executable`; skip the test locally, fail it in CI, when it is missing."""
    path = shutil.which(executable)
    if path is None:
        message = f"{executable} is not installed ({why}); scripts/test installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and start again; stopped
    (without saving) afterwards."""
    executable = require("redis-server", "the Redis session store is tested against real Redis")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(executable, directory=directory).start()
    yield server
    server.stop(save=False)


@pytest.fixture
def bare_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No setting of any service in the environment, no `.env`, no cached settings: each
    test sets exactly the variables it means (a developer's own never leak in)."""
    monkeypatch.chdir(tmp_path)
    for config in SERVICE_CONFIGS:
        for name in config.Settings.model_fields:
            monkeypatch.delenv(name.upper(), raising=False)
        config.get_settings.cache_clear()
    yield
    for config in SERVICE_CONFIGS:
        config.get_settings.cache_clear()


Refusal = Callable[[Callable[[], object], str, dict[str, str]], str]


@pytest.fixture
def refusal(monkeypatch: pytest.MonkeyPatch, bare_environment: None) -> Refusal:
    """`refusal(start, service, env)`: what the entry point `start` exits with in a bare
    environment plus `env`, asserted to be `<service>: cannot start: ` and one sentence;
    returned without the prefix."""

    def refused(start: Callable[[], object], service: str, env: dict[str, str]) -> str:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as exited:
            start()
        return one_sentence(str(exited.value.code), f"{service}: cannot start: ")

    return refused


def one_sentence(message: str, prefix: str) -> str:
    """`message` without `prefix`, asserted to be one sentence on one line."""
    assert message.startswith(prefix), message
    sentence = message.removeprefix(prefix)
    assert "\n" not in sentence
    assert sentence.endswith(".")
    assert sentence[0].isupper()
    assert not SECOND_SENTENCE.search(sentence), sentence
    return sentence
