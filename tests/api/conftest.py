"""Fixtures for the API's tests: a real issuer and the real API, each on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.main import create_app
from testing.issuer import TestIssuer
from testing.servers import LiveServer

RETRY_AFTER = 1  # seconds; short so the outage tests recover quickly


@pytest.fixture
def issuer() -> Iterator[TestIssuer]:
    issuer = TestIssuer()
    with LiveServer(issuer.app) as server:
        issuer.serve_at(server.url)
        yield issuer


@pytest.fixture(scope="module")
def module_issuer() -> Iterator[TestIssuer]:
    """One issuer for a whole test module, for tests that do not change it."""
    issuer = TestIssuer()
    with LiveServer(issuer.app) as server:
        issuer.serve_at(server.url)
        yield issuer


def settings_for(issuer: TestIssuer, **overrides: Any) -> Settings:
    """API settings trusting `issuer`, never read from a developer's `.env`."""
    values: dict[str, Any] = {
        "auth0_issuer_base_url": issuer.url,
        "auth0_audience": issuer.audience,
        "issuer_retry_after": RETRY_AFTER,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def api_settings(issuer: TestIssuer) -> Settings:
    return settings_for(issuer)


@pytest.fixture
def api(api_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(create_app(api_settings)) as server:
        yield server


@pytest.fixture
async def client(api: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url) as client:
        yield client
