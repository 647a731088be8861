"""Fixtures for the fault tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.redis_server import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own that the test may stop and start again."""
    executable = require("redis-server", "the Redis session store is stopped for real")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(executable, directory=directory).start()
    yield server
    server.stop(save=False)
