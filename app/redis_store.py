"""Sessions in Redis, shared by every worker and host: the store and its locks.

Only `create_session_store` imports this module, and only for a `redis://`, `rediss://` or
`unix://` URL: redis-py costs some 6 MB of RSS and a tenth of a second at start-up, which
a process on `memory://` never needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import LockError, RedisError, WatchError

from app.errors import LockTimeout, SessionStoreUnavailable
from app.session_locks import Locks
from app.session_store import Change, SessionRecord, decode_record, encode_record

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "app:session:"
REDIS_LINK_PREFIX = "app:logout-link:"  # sorted set: session ids logged in under one sid/sub
REDIS_ONCE_PREFIX = "app:once:"  # names claimed once (logout-token jti): SET NX EX
REDIS_LOCK_PREFIX = "app:lock:"
# A session lookup sits in front of every page: fail fast (503) rather than hang a worker.
REDIS_SOCKET_TIMEOUT = 2.0  # seconds for one command
REDIS_CONNECT_TIMEOUT = 2.0  # seconds to open a connection
# One retry on a fresh connection: after Redis restarts, pooled connections are dead, and
# the first command on each would otherwise fail although Redis is back.
REDIS_RETRIES = 1
REDIS_MAX_CONNECTIONS = 64  # per process
REDIS_POOL_TIMEOUT = 2.0  # seconds to wait for a free connection before answering 503
LOCK_POLL_INTERVAL = 0.05  # seconds between two tries of a Redis lock held elsewhere

MAX_MODIFY_ATTEMPTS = 30  # optimistic tries of one read-modify-write under contention
MODIFY_BACKOFF = 0.002  # seconds; doubled per try (capped), jittered, so writers spread out
MODIFY_BACKOFF_CAP = 0.05

Unavailable = Callable[[Exception], SessionStoreUnavailable]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def redacted_location(url: str) -> str:
    """`scheme://host:port` of a store URL: where it is, without user, password or path."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return "unix socket"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{parts.hostname or '?'}:{port or 6379}"


class RedisLocks:
    """redis-py's `Lock` (SET NX PX with a random token, released by a script that deletes
    the key only while it still holds that token): a holder that dies frees the lock when
    its `ttl` runs out, and a late holder never releases someone else's lock."""

    def __init__(self, redis: Redis, unavailable: Unavailable) -> None:
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


class RedisSessionStore:
    """Sessions in Redis (`redis://`, `rediss://` or `unix://` URL), shared by all workers.

    Keys are `app:session:<sid>` holding the record's JSON (readable with redis-cli, and by
    every version of the app during a rolling deploy) with Redis's own expiry (SET with
    EX), so Redis evicts idle sessions by itself.  Every Redis failure becomes
    SessionStoreUnavailable.
    """

    def __init__(self, url: str) -> None:
        self.location = redacted_location(url)
        # A blocking pool: at a burst, requests wait briefly for a connection instead of
        # failing at once, and one process never opens more than REDIS_MAX_CONNECTIONS.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=REDIS_MAX_CONNECTIONS,
            timeout=REDIS_POOL_TIMEOUT,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            retry=Retry(NoBackoff(), REDIS_RETRIES),
        )
        self._redis: Redis = Redis.from_pool(pool)
        self._locks = RedisLocks(self._redis, self._unavailable)

    @property
    def locks(self) -> Locks:
        return self._locks

    def _unavailable(self, exc: Exception) -> SessionStoreUnavailable:
        # redis-py messages name hosts and ports, never keys; still, only the class name
        # and the redacted location go into ours, so no id or password can leak.
        logger.warning("session store %s unavailable: %s", self.location, type(exc).__name__)
        return SessionStoreUnavailable(
            f"Redis session store at {self.location} is unavailable ({type(exc).__name__})"
        )

    async def load(self, sid: str) -> SessionRecord | None:
        try:
            raw: bytes | str | None = await self._redis.get(REDIS_KEY_PREFIX + sid)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None
        return decode_record(raw)

    async def save(self, sid: str, data: SessionRecord, ttl: int, *, pending: bool = False) -> None:
        # Pending logins get a short ttl from the middleware; with Redis's volatile-ttl
        # eviction policy they are what goes first when memory runs out.
        try:
            await self._redis.set(REDIS_KEY_PREFIX + sid, encode_record(data), ex=ttl)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None

    async def delete(self, sid: str) -> None:
        try:
            await self._redis.delete(REDIS_KEY_PREFIX + sid)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None

    async def modify(
        self, sid: str, change: Change, ttl: int | None = None
    ) -> SessionRecord | None:
        key = REDIS_KEY_PREFIX + sid
        try:
            for attempt in range(MAX_MODIFY_ATTEMPTS):
                if attempt:
                    backoff = min(MODIFY_BACKOFF_CAP, MODIFY_BACKOFF * 2**attempt)
                    await asyncio.sleep(random.uniform(0, backoff))  # noqa: S311 - jitter only
                async with self._redis.pipeline(transaction=True) as pipe:
                    try:
                        # Optimistic: the SET only happens if nobody wrote the key meanwhile.
                        await pipe.watch(key)
                        record = decode_record(await pipe.get(key))
                        changed = None if record is None else change(record)
                        if changed is None:
                            return record
                        pipe.multi()  # type: ignore[no-untyped-call]
                        if ttl is None:
                            pipe.set(key, encode_record(changed), keepttl=True)
                        else:
                            pipe.set(key, encode_record(changed), ex=ttl)
                        await pipe.execute()
                        return changed
                    except WatchError:
                        continue
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None
        raise self._unavailable(WatchError("too many concurrent writers"))

    async def link(self, sid: str, tags: list[str], ttl: int) -> None:
        # A sorted set scored by login time: links older than a session can live are
        # trimmed at each login, so a user who logs in often keeps a bounded set.
        now = time.time()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for tag in tags:
                    key = REDIS_LINK_PREFIX + tag
                    pipe.zadd(key, {sid: now})
                    pipe.zremrangebyscore(key, "-inf", now - ttl)
                    pipe.expire(key, ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None

    async def delete_linked(self, tag: str) -> int:
        key = REDIS_LINK_PREFIX + tag
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrange(key, 0, -1)
                pipe.delete(key)
                members, _ = await pipe.execute()
            if members:
                await self._redis.delete(*(REDIS_KEY_PREFIX + _text(m) for m in members))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None
        return len(members)

    async def claim_once(self, name: str, ttl: int) -> bool:
        try:
            claimed = await self._redis.set(REDIS_ONCE_PREFIX + name, b"1", ex=ttl, nx=True)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None
        return bool(claimed)

    async def aclose(self) -> None:
        await self._redis.aclose()
