"""A fresh dev tenant per test (its own data folder), and a client to talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from testing.servers import LiveServer
from testing.tenant import start_tenant
from tests.devtenant.helpers import APP


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "devtenant"


@pytest.fixture
def tenant(data_dir: Path) -> Iterator[LiveServer]:
    server = start_tenant(data_dir, [APP])
    yield server
    server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http
