"""Session stores: the bounded memory store, and the Redis store against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from app.errors import SessionStoreUnavailable, SettingsError
from app.session_store import (
    REDIS_KEY_PREFIX,
    MemorySessionStore,
    RedisSessionStore,
    create_session_store,
)
from testing.redis_server import RedisServer

RECORD = {"user": {"sub": "auth0|0123456789abcdef01234567"}, "_state_auth0_x": {"exp": 1.5}}


# --- memory -----------------------------------------------------------------------------


async def test_memory_is_bounded_by_bytes_as_well_as_count() -> None:
    store = MemorySessionStore(1000, max_bytes=4000)
    for i in range(20):
        await store.save(f"s{i}", {"user": {"sub": str(i)}, "pad": "x" * 900}, ttl=60)
    assert store.bytes <= 4000
    assert len(store) == 4
    assert await store.load("s0") is None
    assert await store.load("s19") is not None


async def test_a_flood_of_pending_logins_never_evicts_a_user() -> None:
    store = MemorySessionStore(20)
    await store.save("alice", RECORD, ttl=60)
    for i in range(500):
        await store.save(f"pending{i}", {"return_to": "/"}, ttl=60, pending=True)
    assert await store.load("alice") == RECORD
    assert len(store) == 1 + 20 // 10  # the pending space is a tenth of the store
    assert await store.load("pending499") == {"return_to": "/"}


async def test_a_pending_login_that_completes_moves_to_the_users_space() -> None:
    store = MemorySessionStore(20)
    await store.save("s", {"return_to": "/"}, ttl=60, pending=True)
    await store.save("s", RECORD, ttl=60)
    for i in range(10):
        await store.save(f"pending{i}", {"return_to": "/"}, ttl=60, pending=True)
    assert await store.load("s") == RECORD
    await store.delete("s")
    assert await store.load("s") is None


async def test_memory_round_trip_and_delete() -> None:
    store = MemorySessionStore(10)
    await store.save("a", RECORD, ttl=60)
    assert await store.load("a") == RECORD
    assert await store.load("unknown") is None
    await store.delete("a")
    await store.delete("a")  # deleting twice is fine
    assert await store.load("a") is None


async def test_memory_load_returns_a_copy() -> None:
    store = MemorySessionStore(10)
    await store.save("a", {"n": 1}, ttl=60)
    loaded = await store.load("a")
    assert loaded is not None
    loaded["n"] = 2
    assert await store.load("a") == {"n": 1}


async def test_memory_store_is_bounded_and_evicts_least_recently_used() -> None:
    store = MemorySessionStore(2)
    await store.save("a", {"n": 1}, ttl=60)
    await store.save("b", {"n": 2}, ttl=60)
    assert await store.load("a") == {"n": 1}  # "a" is now more recently used than "b"
    await store.save("c", {"n": 3}, ttl=60)
    assert len(store) == 2
    assert await store.load("b") is None
    assert await store.load("a") == {"n": 1}
    assert await store.load("c") == {"n": 3}


async def test_memory_store_bound_holds_under_a_flood() -> None:
    store = MemorySessionStore(100)
    for i in range(1000):
        await store.save(f"s{i}", {"i": i}, ttl=60)
    assert len(store) == 100
    assert await store.load("s999") == {"i": 999}
    assert await store.load("s0") is None


async def test_memory_records_expire() -> None:
    store = MemorySessionStore(10)
    await store.save("short", {"n": 1}, ttl=1)
    await store.save("long", {"n": 2}, ttl=60)
    await asyncio.sleep(1.1)
    assert await store.load("short") is None
    assert await store.load("long") == {"n": 2}
    assert len(store) == 1  # the expired record was dropped, not just hidden


def test_memory_store_needs_a_positive_bound() -> None:
    with pytest.raises(ValueError, match="max_sessions"):
        MemorySessionStore(0)


# --- choosing a store -------------------------------------------------------------------


def test_create_session_store_picks_by_scheme() -> None:
    memory = create_session_store(Settings(_env_file=None, session_max_memory=7))
    assert isinstance(memory, MemorySessionStore)
    assert memory.max_sessions == 7
    redis = create_session_store(
        Settings(_env_file=None, session_store_url="redis://127.0.0.1:1/0")
    )
    assert isinstance(redis, RedisSessionStore)


def test_unknown_scheme_is_a_clear_error_without_the_password() -> None:
    settings = Settings(_env_file=None, session_store_url="postgres://me:hunter2@db/sessions")
    with pytest.raises(SettingsError, match="SESSION_STORE_URL") as caught:
        create_session_store(settings)
    assert "hunter2" not in str(caught.value)
    assert "postgres" in str(caught.value)


# --- redis ------------------------------------------------------------------------------


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[RedisSessionStore]:
    store = RedisSessionStore(redis_server.url)
    yield store
    await store.aclose()


@pytest.mark.redis
async def test_redis_round_trip_with_prefix_and_ttl(
    redis_server: RedisServer, redis_store: RedisSessionStore
) -> None:
    await redis_store.save("abc", RECORD, ttl=60)
    assert await redis_store.load("abc") == RECORD
    ttl = int(redis_server.command("TTL", f"{REDIS_KEY_PREFIX}abc").lstrip(b":"))
    assert 0 < ttl <= 60
    await redis_store.delete("abc")
    assert redis_server.command("EXISTS", f"{REDIS_KEY_PREFIX}abc") == b":0"
    assert await redis_store.load("abc") is None


@pytest.mark.redis
async def test_redis_records_expire(redis_store: RedisSessionStore) -> None:
    await redis_store.save("short", {"n": 1}, ttl=1)
    await asyncio.sleep(1.2)
    assert await redis_store.load("short") is None


@pytest.mark.redis
async def test_redis_garbage_record_reads_as_no_session(
    redis_server: RedisServer, redis_store: RedisSessionStore
) -> None:
    assert redis_server.command("SET", f"{REDIS_KEY_PREFIX}bad", "not-json") == b"+OK"
    assert await redis_store.load("bad") is None
    assert redis_server.command("SET", f"{REDIS_KEY_PREFIX}list", "[1,2]") == b"+OK"
    assert await redis_store.load("list") is None


@pytest.mark.redis
async def test_redis_down_raises_unavailable_then_recovers(redis_server: RedisServer) -> None:
    # Credentials in the URL must never reach an error message; this Redis has no password,
    # so the URL only works while Redis is down (the connection fails before AUTH).
    secret_url = redis_server.url.replace("redis://", "redis://user:hunter2@")
    noauth = RedisSessionStore(secret_url)
    store = RedisSessionStore(redis_server.url)
    try:
        await store.save("sid-kept", {"n": 1}, ttl=60)
        redis_server.stop(save=True)
        for failing in (store.load("sid-kept"), store.save("x", {}, 60), store.delete("x")):
            with pytest.raises(SessionStoreUnavailable) as caught:
                await failing
            assert "sid-kept" not in str(caught.value)
        with pytest.raises(SessionStoreUnavailable) as caught:
            await noauth.load("sid-kept")
        assert "hunter2" not in str(caught.value)
        assert "user" not in str(caught.value)
        redis_server.start()
        # The same store object, with its pool of now-dead connections, works again and
        # the session saved before the outage is back.
        assert await store.load("sid-kept") == {"n": 1}
    finally:
        await store.aclose()
        await noauth.aclose()


@pytest.mark.redis
async def test_redis_frozen_times_out_as_unavailable(
    redis_server: RedisServer, redis_store: RedisSessionStore
) -> None:
    await redis_store.save("abc", {"n": 1}, ttl=60)
    redis_server.pause()
    try:
        with pytest.raises(SessionStoreUnavailable):
            await redis_store.load("abc")
    finally:
        redis_server.resume()
    assert await redis_store.load("abc") == {"n": 1}
