"""Named locks that every process sharing the session store honours.

Used to refresh a session's tokens once: with rotating refresh tokens, two processes
spending the same one make the tenant see reuse and revoke the session's whole token
family.  `MemoryLocks` serve one process (the memory store is one process's anyway);
`RedisLocks` use redis-py's `Lock` (SET NX PX with a random token, released by a script
that deletes the key only while it still holds that token), so a holder that dies frees
the lock when its `ttl` runs out and a late holder never releases someone else's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from app.errors import LockTimeout, SessionStoreUnavailable

REDIS_LOCK_PREFIX = "app:lock:"
LOCK_POLL_INTERVAL = 0.05  # seconds between two tries of a Redis lock held elsewhere


class Locks(Protocol):
    def hold(self, name: str, ttl: float, wait: float) -> AbstractAsyncContextManager[None]:
        """Hold `name` alone for at most `ttl` seconds; LockTimeout after `wait` seconds."""
        ...


class MemoryLocks:
    """One asyncio.Lock per name, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # name -> (lock, users)

    @asynccontextmanager
    async def hold(self, name: str, ttl: float, wait: float) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(wait):
                    await lock.acquire()
            except TimeoutError:
                raise LockTimeout(name) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)


class RedisLocks:
    def __init__(
        self, redis: Redis, unavailable: Callable[[Exception], SessionStoreUnavailable]
    ) -> None:
        self._redis = redis
        self._unavailable = unavailable

    @asynccontextmanager
    async def hold(self, name: str, ttl: float, wait: float) -> AsyncIterator[None]:
        lock = self._redis.lock(
            REDIS_LOCK_PREFIX + name,
            timeout=ttl,
            sleep=LOCK_POLL_INTERVAL,
            blocking_timeout=wait,
        )
        try:
            acquired = await lock.acquire()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None
        if not acquired:
            raise LockTimeout(name)
        try:
            yield
        finally:
            # LockError: the ttl ran out and someone else may hold it now; theirs stays.
            with contextlib.suppress(LockError, RedisError, OSError):
                await lock.release()
