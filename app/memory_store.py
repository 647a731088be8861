"""Sessions in this process: a store bounded by count and bytes, records held packed.

Only `_Space` touches the held bytes: it packs every record it is given and unpacks every
one it returns (app/session_packing.py: JWTs taken apart, then deflated), so no method of
the store (`save`, `modify`, ...) can hold a record in another form.  An earlier
compressed store packed in `save` only; its `modify` stored plain JSON, which the next
load could not read, and login rotation broke.

Unpacking costs some 20 µs, on every request with a session; a user's requests come in
bursts (a page, then its API calls), so each space also keeps a few records it unpacked
lately in marshal's form, which gives a fresh copy in a fifth of the time.  Such an entry
is used only while the packed bytes it came from are still the ones held: whatever wrote
the record since (`save`, `modify`, eviction, expiry) has replaced or dropped those.
"""

from __future__ import annotations

import marshal
import time
from collections import OrderedDict

from app.config import MEMORY_STORE_MAX_BYTES
from app.session_locks import Locks, MemoryLocks
from app.session_packing import pack, unpack
from app.session_store import Change, SessionRecord

PENDING_SHARE = 10  # the pending-login space of the memory store is 1/10 of its size
MAX_ONCE_NAMES = 100_000  # the memory store forgets the oldest claimed names beyond this
# Records kept unpacked per space, least recently read dropped first: by count, and by
# bytes (a logged-in record is some 2.7 kB in marshal's form).
RECENT_RECORDS = 64
RECENT_BYTES = 256 * 1024


class _Recent:
    """Records unpacked lately: sid -> (the packed bytes, the record in marshal's form)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.entries: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()

    def get(self, sid: str, packed: bytes) -> SessionRecord | None:
        """A copy of the record unpacked from `packed`, if kept; else None."""
        entry = self.entries.get(sid)
        if entry is None or entry[0] != packed:
            return None
        self.entries.move_to_end(sid)
        record: SessionRecord = marshal.loads(entry[1])  # noqa: S302 - only put() made them
        return record

    def put(self, sid: str, packed: bytes, record: SessionRecord) -> None:
        try:
            kept = marshal.dumps(record)
        except ValueError:
            return  # cannot happen for unpacked JSON; then it is simply not kept
        self.pop(sid)
        self.entries[sid] = (packed, kept)
        self.bytes += len(kept)
        while self.entries and (len(self.entries) > RECENT_RECORDS or self.bytes > RECENT_BYTES):
            self.pop(next(iter(self.entries)))

    def pop(self, sid: str) -> None:
        entry = self.entries.pop(sid, None)
        if entry is not None:
            self.bytes -= len(entry[1])


class _Space:
    """One least-recently-used table of packed records, bounded by count and by bytes."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.bytes = 0
        # sid -> (expiry on the monotonic clock, packed record); least recently used first
        self.records: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.recent = _Recent()

    def get(self, sid: str) -> SessionRecord | None:
        entry = self.records.get(sid)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            self.pop(sid)
            return None
        self.records.move_to_end(sid)
        record = self.recent.get(sid, entry[1])
        if record is None:
            record = unpack(entry[1])
            if record is not None:
                self.recent.put(sid, entry[1], record)
        return record

    def put(self, sid: str, record: SessionRecord, ttl: float) -> None:
        raw = pack(record)
        self.pop(sid)
        self.records[sid] = (time.monotonic() + ttl, raw)
        self.bytes += len(raw)
        while len(self.records) > 1 and (
            len(self.records) > self.max_records or self.bytes > self.max_bytes
        ):
            self.pop(next(iter(self.records)))

    def pop(self, sid: str) -> None:
        self.recent.pop(sid)
        entry = self.records.pop(sid, None)
        if entry is not None:
            self.bytes -= len(entry[1])


class _Links:
    """Which sessions are linked under each tag (back-channel logout), bounded by count.

    Most tags (a tenant session's `sid`, a user who logs in once) name one session: it is
    held as that id, and a set only once a second session joins, which at 10,000 sessions
    saves some 4 MB of one-member sets.
    """

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.sessions: dict[str, str | set[str]] = {}  # tag -> session id(s)
        # session id -> its tags; least recently linked first, so that beyond
        # max_sessions the links of sessions the store has evicted by now go first
        self.tags: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def add(self, sid: str, tags: list[str]) -> None:
        self.tags[sid] = (*self.tags.get(sid, ()), *tags)
        self.tags.move_to_end(sid)
        for tag in tags:
            held = self.sessions.get(tag)
            if held is None or held == sid:
                self.sessions[tag] = sid
            elif isinstance(held, set):
                held.add(sid)
            else:
                self.sessions[tag] = {held, sid}
        while len(self.tags) > self.max_sessions:
            self.remove(next(iter(self.tags)))

    def remove(self, sid: str) -> None:
        for tag in self.tags.pop(sid, ()):
            held = self.sessions.get(tag)
            if isinstance(held, set):
                held.discard(sid)
                if len(held) == 1:
                    self.sessions[tag] = held.pop()
            elif held == sid:
                del self.sessions[tag]

    def pop(self, tag: str) -> set[str]:
        """The sessions linked under `tag`, which is forgotten."""
        held = self.sessions.pop(tag, None)
        if held is None:
            return set()
        return held if isinstance(held, set) else {held}


class MemorySessionStore:
    """Sessions in this process: lost on restart, not shared between workers.

    Bounded by count and by bytes (of records as held, i.e. compressed): beyond either, the
    least recently used session is evicted, so a flood of requests cannot exhaust memory.
    Pending logins (`pending=True`: no user yet) live in a space of their own, a tenth of
    the size, so a flood of cookie-less `/login` calls evicts only other pending logins,
    never a logged-in user.  Expired records are dropped when met.
    """

    def __init__(self, max_sessions: int, max_bytes: int = MEMORY_STORE_MAX_BYTES) -> None:
        if max_sessions < 1 or max_bytes < 1:
            raise ValueError("max_sessions and max_bytes must be at least 1")
        self.max_sessions = max_sessions
        self._users = _Space(max_sessions, max_bytes)
        self._pending = _Space(
            max(1, max_sessions // PENDING_SHARE), max(1, max_bytes // PENDING_SHARE)
        )
        self._links = _Links(max_sessions)
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
        record = self._users.get(sid)
        return self._pending.get(sid) if record is None else record

    async def save(self, sid: str, data: SessionRecord, ttl: int, *, pending: bool = False) -> None:
        space, other = (self._pending, self._users) if pending else (self._users, self._pending)
        other.pop(sid)
        space.put(sid, data, ttl)

    async def delete(self, sid: str) -> None:
        self._users.pop(sid)
        self._pending.pop(sid)
        self._links.remove(sid)

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
        space.put(sid, changed, keep if ttl is None else ttl)
        return changed

    async def link(self, sid: str, tags: list[str], ttl: int) -> None:
        self._links.add(sid, tags)

    async def delete_linked(self, tag: str) -> int:
        sids = self._links.pop(tag)
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
            space.recent = _Recent()
        self._links = _Links(self.max_sessions)
        self._once.clear()
