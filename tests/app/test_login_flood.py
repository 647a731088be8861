"""Cookie-less /login calls cost a small, short-lived pending login, never a user's session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.auth import MAX_RETURN_TO
from app.memory_store import MemorySessionStore
from testing.live_stack import LiveStack, running_live_stack
from testing.sessions import session_store

MAX_SESSIONS = 200
FLOOD = MAX_SESSIONS + 100


@pytest.fixture
def small_stack(tmp_path: Path) -> Iterator[LiveStack]:
    with running_live_stack(tmp_path, app={"session_max_memory": MAX_SESSIONS}) as stack:
        yield stack


async def test_a_login_flood_does_not_log_a_user_out(small_stack: LiveStack) -> None:
    async with small_stack.client() as alice:
        await small_stack.login(alice)
        assert (await alice.get("/profile")).status_code == 200
        async with httpx.AsyncClient(base_url=small_stack.app.url) as attacker:
            for _ in range(FLOOD):
                started = await attacker.get("/login", params={"returnTo": "/x" * 1000})
                assert started.status_code == 302
                attacker.cookies.clear()  # every call a new visitor
        still = await alice.get("/profile")
        assert still.status_code == 200  # not a redirect to /login
    store = session_store(small_stack)
    assert isinstance(store, MemorySessionStore)
    assert len(store) <= 1 + MAX_SESSIONS // 10


async def test_an_overlong_return_to_is_400_and_saves_nothing(small_stack: LiveStack) -> None:
    async with small_stack.client() as visitor:
        response = await visitor.get("/login", params={"returnTo": "/" + "a" * MAX_RETURN_TO})
        assert response.status_code == 400
        assert "too long" in response.text
        assert "app_session" not in response.headers.get("set-cookie", "")
        fine = await visitor.get("/login", params={"returnTo": "/" + "a" * 100})
        assert fine.status_code == 302
