"""Store links for back-channel logout, and the once-only names of the replay cache, in
both stores (Redis against a real redis-server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.session_store import MemorySessionStore, RedisSessionStore, SessionStore
from tests.redis_server import RedisServer

RECORD = {"user": {"sub": "auth0|0123456789abcdef01234567"}}


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        memory = MemorySessionStore(100)
        yield memory
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis = RedisSessionStore(server.url)
    yield redis
    await redis.aclose()


async def test_deleting_a_tag_deletes_exactly_its_sessions(store: SessionStore) -> None:
    for sid in ("a1", "a2", "b1"):
        await store.save(sid, RECORD, ttl=60)
    await store.link("a1", ["sid-a", "user-x"], ttl=60)
    await store.link("a2", ["sid-a", "user-x"], ttl=60)
    await store.link("b1", ["sid-b", "user-x"], ttl=60)
    assert await store.delete_linked("sid-a") == 2
    assert await store.load("a1") is None
    assert await store.load("a2") is None
    assert await store.load("b1") == RECORD
    assert await store.delete_linked("sid-a") == 0  # gone with its sessions
    assert await store.delete_linked("unknown") == 0
    await store.delete_linked("user-x")
    assert await store.load("b1") is None


async def test_a_name_is_claimed_once(store: SessionStore) -> None:
    assert await store.claim_once("jti-1", ttl=60) is True
    assert await store.claim_once("jti-1", ttl=60) is False
    assert await store.claim_once("jti-2", ttl=60) is True


async def test_memory_links_go_with_evicted_sessions() -> None:
    store = MemorySessionStore(2)
    for sid in ("a", "b", "c"):  # "a" is evicted by "c"
        await store.save(sid, RECORD, ttl=60)
        await store.link(sid, [f"tag-{sid}", "shared"], ttl=60)
    assert await store.delete_linked("tag-a") == 0
    assert await store.delete_linked("shared") == 2
