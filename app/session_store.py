"""Where server-side sessions live: a bounded in-process store, or Redis for scale-out.

A store maps a session id to one JSON record and forgets it after a time-to-live.  It
knows nothing about cookies, signing or expiry policy (app/session_middleware.py does).
Records are kept as JSON bytes, not Python objects, so 10,000 live sessions stay small.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, WatchError

from app.config import MEMORY_STORE_MAX_BYTES, Settings
from app.errors import SessionStoreUnavailable, SettingsError
from app.session_locks import Locks, MemoryLocks, RedisLocks

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "app:session:"
PENDING_SHARE = 10  # the pending-login space of the memory store is 1/10 of its size
REDIS_LINK_PREFIX = "app:logout-link:"  # sorted set: session ids logged in under one sid/sub
REDIS_ONCE_PREFIX = "app:once:"  # names claimed once (logout-token jti): SET NX EX
MAX_ONCE_NAMES = 100_000  # the memory store forgets the oldest claimed names beyond this
# A session lookup sits in front of every page: fail fast (503) rather than hang a worker.
REDIS_SOCKET_TIMEOUT = 2.0  # seconds for one command
REDIS_CONNECT_TIMEOUT = 2.0  # seconds to open a connection
# One retry on a fresh connection: after Redis restarts, pooled connections are dead, and
# the first command on each would otherwise fail although Redis is back.
REDIS_RETRIES = 1
REDIS_MAX_CONNECTIONS = 64  # per process
REDIS_POOL_TIMEOUT = 2.0  # seconds to wait for a free connection before answering 503

MAX_MODIFY_ATTEMPTS = 30  # optimistic tries of one read-modify-write under contention
MODIFY_BACKOFF = 0.002  # seconds; doubled per try (capped), jittered, so writers spread out
MODIFY_BACKOFF_CAP = 0.05

SessionRecord = dict[str, Any]
# Given the latest stored record, the record to store instead; None leaves it as it is.
Change = Callable[[SessionRecord], SessionRecord | None]


class SessionStore(Protocol):
    """A key-value store of session records with a time-to-live."""

    async def load(self, sid: str) -> SessionRecord | None:
        """The record saved under `sid`, or None when there is none or it has expired."""
        ...

    async def save(self, sid: str, data: SessionRecord, ttl: int, *, pending: bool = False) -> None:
        """Store `data` under `sid` for `ttl` seconds (replacing any previous record).

        `pending`: a login in progress (no user yet), which must never push a user out.
        """
        ...

    async def delete(self, sid: str) -> None:
        """Forget `sid`; deleting an unknown id is not an error."""
        ...

    async def modify(
        self, sid: str, change: Change, ttl: int | None = None
    ) -> SessionRecord | None:
        """Apply `change` to the latest record of `sid` atomically (no other writer's update
        is lost); None when there is no record (a deleted session is never brought back).
        `ttl` None keeps the record's expiry."""
        ...

    @property
    def locks(self) -> Locks:
        """Locks held across every process that shares this store."""
        ...

    async def link(self, sid: str, tags: list[str], ttl: int) -> None:
        """Remember for `ttl` seconds that session `sid` belongs under each of `tags`."""
        ...

    async def delete_linked(self, tag: str) -> int:
        """Delete every session linked to `tag` (back-channel logout); how many ids it held."""
        ...

    async def claim_once(self, name: str, ttl: int) -> bool:
        """True the first time `name` is claimed within `ttl` seconds, False after (replays)."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once from the app's lifespan."""
        ...


def encode_record(data: SessionRecord) -> bytes:
    # Compact separators: at 10,000 sessions every byte of a record is 10 kB of RSS.
    return json.dumps(data, separators=(",", ":")).encode()


def decode_record(raw: bytes | str | None) -> SessionRecord | None:
    """The record in `raw`; None for anything that is not a JSON object (never an error)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class _Space:
    """One least-recently-used table of records, bounded by count and by bytes."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.bytes = 0
        # sid -> (expiry on the monotonic clock, JSON bytes); order = least recently used first
        self.records: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, sid: str) -> bytes | None:
        entry = self.records.get(sid)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            self.pop(sid)
            return None
        self.records.move_to_end(sid)
        return entry[1]

    def put(self, sid: str, raw: bytes, ttl: float) -> None:
        self.pop(sid)
        self.records[sid] = (time.monotonic() + ttl, raw)
        self.bytes += len(raw)
        while len(self.records) > 1 and (
            len(self.records) > self.max_records or self.bytes > self.max_bytes
        ):
            self.pop(next(iter(self.records)))

    def pop(self, sid: str) -> None:
        entry = self.records.pop(sid, None)
        if entry is not None:
            self.bytes -= len(entry[1])


class MemorySessionStore:
    """Sessions in this process: lost on restart, not shared between workers.

    Bounded by count and by bytes: beyond either, the least recently used session is
    evicted, so a flood of requests cannot exhaust memory.  Pending logins (`pending=True`:
    no user yet) live in a space of their own, a tenth of the size, so a flood of
    cookie-less `/login` calls evicts only other pending logins, never a logged-in user.
    Expired records are dropped when met.
    """

    def __init__(self, max_sessions: int, max_bytes: int = MEMORY_STORE_MAX_BYTES) -> None:
        if max_sessions < 1 or max_bytes < 1:
            raise ValueError("max_sessions and max_bytes must be at least 1")
        self.max_sessions = max_sessions
        self._users = _Space(max_sessions, max_bytes)
        self._pending = _Space(
            max(1, max_sessions // PENDING_SHARE), max(1, max_bytes // PENDING_SHARE)
        )
        self._linked: dict[str, set[str]] = {}  # tag -> session ids
        # session id -> its tags, oldest first; bounded like the users' space, so links of
        # sessions the space evicted go too
        self._tags: OrderedDict[str, list[str]] = OrderedDict()
        self._once: OrderedDict[str, float] = OrderedDict()  # name -> expiry (monotonic)
        self._locks = MemoryLocks()

    @property
    def locks(self) -> Locks:
        return self._locks

    def __len__(self) -> int:
        return len(self._users.records) + len(self._pending.records)

    @property
    def bytes(self) -> int:
        """Bytes of records held, both spaces together."""
        return self._users.bytes + self._pending.bytes

    async def load(self, sid: str) -> SessionRecord | None:
        raw = self._users.get(sid) or self._pending.get(sid)
        return decode_record(raw)

    async def save(self, sid: str, data: SessionRecord, ttl: int, *, pending: bool = False) -> None:
        space, other = (self._pending, self._users) if pending else (self._users, self._pending)
        other.pop(sid)
        space.put(sid, encode_record(data), ttl)

    async def delete(self, sid: str) -> None:
        self._users.pop(sid)
        self._pending.pop(sid)
        self._unlink(sid)

    async def modify(
        self, sid: str, change: Change, ttl: int | None = None
    ) -> SessionRecord | None:
        # No await between the read and the write: atomic within the one process.
        record = await self.load(sid)
        if record is None:
            return None
        changed = change(record)
        if changed is None:
            return record
        space = self._users if sid in self._users.records else self._pending
        keep = space.records[sid][0] - time.monotonic()  # the expiry it has now
        space.put(sid, encode_record(changed), keep if ttl is None else ttl)
        return changed

    def _unlink(self, sid: str) -> None:
        for tag in self._tags.pop(sid, []):
            members = self._linked.get(tag)
            if members is not None:
                members.discard(sid)
                if not members:
                    del self._linked[tag]

    async def link(self, sid: str, tags: list[str], ttl: int) -> None:
        self._tags.setdefault(sid, []).extend(tags)
        self._tags.move_to_end(sid)
        for tag in tags:
            self._linked.setdefault(tag, set()).add(sid)
        while len(self._tags) > self.max_sessions:
            self._unlink(next(iter(self._tags)))

    async def delete_linked(self, tag: str) -> int:
        sids = self._linked.pop(tag, set())
        for sid in sids:
            await self.delete(sid)
        return len(sids)

    async def claim_once(self, name: str, ttl: int) -> bool:
        now = time.monotonic()
        expires_at = self._once.get(name)
        if expires_at is not None and expires_at > now:
            return False
        self._once[name] = now + ttl
        self._once.move_to_end(name)
        while self._once and (
            len(self._once) > MAX_ONCE_NAMES or next(iter(self._once.values())) <= now
        ):
            self._once.popitem(last=False)
        return True

    async def aclose(self) -> None:
        for space in (self._users, self._pending):
            space.records.clear()
            space.bytes = 0
        self._linked.clear()
        self._tags.clear()
        self._once.clear()


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


class RedisSessionStore:
    """Sessions in Redis (`redis://`, `rediss://` or `unix://` URL), shared by all workers.

    Keys are `app:session:<sid>` with Redis's own expiry (SET with EX, i.e. SETEX), so
    Redis evicts idle sessions by itself.  Every Redis failure becomes SessionStoreUnavailable.
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


def create_session_store(settings: Settings) -> SessionStore:
    """The store SESSION_STORE_URL names: `memory://` or `redis://...` (`rediss://`, `unix://`)."""
    url = settings.session_store_url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemorySessionStore(settings.session_max_memory, settings.session_max_memory_bytes)
    if scheme in ("redis", "rediss", "unix"):
        return RedisSessionStore(url)
    # Only the scheme in the message: the URL may carry a password.
    raise SettingsError(
        f"SESSION_STORE_URL must start with memory:// or redis:// (got {scheme or 'no'} scheme)."
    )
