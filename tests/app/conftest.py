"""Fixtures for the frontend's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from testing.live_stack import LiveStack, running_live_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """Tenant, API and app on free ports, shared by one test module's tests."""
    with running_live_stack(tmp_path_factory.mktemp("tenant")) as stack:
        yield stack


@pytest.fixture
async def alice(stack: LiveStack) -> AsyncIterator[httpx.AsyncClient]:
    """A browser in which Alice has logged in."""
    async with stack.client() as client:
        await stack.login(client)
        yield client
