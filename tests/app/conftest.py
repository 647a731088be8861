"""Fixtures for the frontend's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.redis_server import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server of this test's own, stopped (without saving) afterwards."""
    executable = require("redis-server", "the Redis session store is tested against real Redis")
    server = RedisServer(executable, directory=tmp_path).start()
    yield server
    server.stop(save=False)
