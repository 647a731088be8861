"""Named locks that every process sharing the session store honours.

Used to refresh a session's tokens once: with rotating refresh tokens, two processes
spending the same one make the tenant see reuse and revoke the session's whole token
family.  `MemoryLocks` serve one process (the memory store is one process's anyway);
`RedisLocks` (app/redis_store.py, with the Redis store) serve every process on one Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from app.errors import LockTimeout


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
