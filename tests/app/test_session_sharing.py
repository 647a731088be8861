"""What the store shares between requests and workers: atomic read-modify-write, locks,
links for back-channel logout and once-only names (the logout-token replay cache), in
both stores (Redis against a real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.errors import LockTimeout
from app.memory_store import MemorySessionStore
from app.redis_store import REDIS_LOCK_PREFIX, RedisSessionStore
from app.session_store import SessionRecord, SessionStore
from testing.redis_server import RedisServer

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


async def test_concurrent_modifications_all_land(store: SessionStore) -> None:
    await store.save("s", {"n": 0}, ttl=60)

    def add(name: str) -> object:
        def change(record: SessionRecord) -> SessionRecord:
            return {**record, name: True, "n": record["n"] + 1}

        return change

    await asyncio.gather(*(store.modify("s", add(f"k{i}")) for i in range(64)))  # type: ignore[arg-type]
    record = await store.load("s")
    assert record is not None
    assert record["n"] == 64
    assert all(record[f"k{i}"] for i in range(64))


async def test_modify_never_brings_back_a_deleted_record(store: SessionStore) -> None:
    assert await store.modify("gone", lambda record: {**record, "x": 1}) is None
    assert await store.load("gone") is None


async def test_a_lock_is_held_by_one_at_a_time(store: SessionStore) -> None:
    inside = 0
    most = 0

    async def critical() -> None:
        nonlocal inside, most
        async with store.locks.hold("refresh:s", ttl=10, wait=10):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(critical() for _ in range(10)))
    assert most == 1


async def test_waiting_too_long_for_a_lock_fails(store: SessionStore) -> None:
    async with store.locks.hold("refresh:s", ttl=10, wait=1):
        with pytest.raises(LockTimeout):
            async with store.locks.hold("refresh:s", ttl=10, wait=0.2):
                pass
    async with store.locks.hold("refresh:s", ttl=10, wait=0.2):
        pass  # free again once released


async def test_a_lock_whose_holder_died_frees_itself(redis_server: RedisServer) -> None:
    # A holder that died: the key with its expiry, and nobody left to delete it.
    assert (
        redis_server.command("SET", REDIS_LOCK_PREFIX + "refresh:s", "dead", "NX", "PX", "500")
        == b"+OK"
    )
    store = RedisSessionStore(redis_server.url)
    try:
        async with store.locks.hold("refresh:s", ttl=10, wait=5):
            # ours now: the dead holder's token is gone
            assert redis_server.command("GET", REDIS_LOCK_PREFIX + "refresh:s") != b"$4"
    finally:
        await store.aclose()
