"""Fixtures shared by every test package.

Tests that need a service the machine may lack (Chromium, redis-server, node) must
not silently skip in CI: `require()` skips locally with a reason but fails when
the CI environment variable is set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.redis_server import RedisServer


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
