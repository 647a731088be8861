"""The Redis store against a real redis-server: prefix, expiry, garbage, outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.errors import SessionStoreUnavailable
from app.redis_store import REDIS_KEY_PREFIX, RedisSessionStore
from testing.redis_server import RedisServer

RECORD = {"user": {"sub": "auth0|0123456789abcdef01234567"}, "_state_auth0_x": {"exp": 1.5}}


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
