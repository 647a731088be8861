"""Where server-side sessions live: the store contract, the record's encoding, the choice.

A store maps a session id to one record (a JSON object) and forgets it after a
time-to-live.  It knows nothing about cookies, signing or expiry policy
(app/session_middleware.py does).  Two stores fulfil it: a bounded one in this process
(app/memory_store.py, records packed small by app/session_packing.py) and Redis for
scale-out (app/redis_store.py, records as this module's JSON).  Both hold bytes, not
Python objects, so 10,000 live sessions stay small.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from app.config import Settings
from app.errors import SettingsError
from app.session_locks import Locks

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


def create_session_store(settings: Settings) -> SessionStore:
    """The store SESSION_STORE_URL names: `memory://` or `redis://...` (`rediss://`, `unix://`)."""
    url = settings.session_store_url.strip()
    scheme = urlsplit(url).scheme.lower()
    # Imported here, not at the top: both modules import this one, and a process loads only
    # the store it runs on (redis-py alone is some 6 MB of RSS a memory:// process never uses).
    if scheme == "memory":
        from app.memory_store import MemorySessionStore

        return MemorySessionStore(settings.session_max_memory, settings.session_max_memory_bytes)
    if scheme in ("redis", "rediss", "unix"):
        from app.redis_store import RedisSessionStore

        return RedisSessionStore(url)
    # Only the scheme in the message: the URL may carry a password.
    raise SettingsError(
        f"SESSION_STORE_URL must start with memory:// or redis:// (got {scheme or 'no'} scheme)."
    )
