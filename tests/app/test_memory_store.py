"""The memory store: bounded by count and bytes, pending logins apart, records held packed."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from app.memory_store import RECENT_BYTES, RECENT_RECORDS, MemorySessionStore
from app.session_store import encode_record

RECORD = {"user": {"sub": "auth0|0123456789abcdef01234567"}, "_state_auth0_x": {"exp": 1.5}}


async def test_memory_is_bounded_by_bytes_as_well_as_count() -> None:
    store = MemorySessionStore(1000, max_bytes=4000)
    for i in range(20):
        # Random padding, as tokens are: records are held compressed, and "x" * 900 would
        # shrink to almost nothing.  900 random bytes are about 1,000 held bytes.
        pad = secrets.token_bytes(900).hex()
        await store.save(f"s{i}", {"user": {"sub": str(i)}, "pad": pad}, ttl=60)
    assert store.bytes <= 4000
    assert 2 <= len(store) <= 4
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


async def test_records_are_held_compressed_and_read_back_whole() -> None:
    store = MemorySessionStore(10)
    token = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + secrets.token_urlsafe(600)
    record = {**RECORD, "id_token": token, "tokens": {"api": {"access_token": token}}}
    await store.save("a", record, ttl=60)
    assert store.bytes < len(encode_record(record)) * 0.85
    assert await store.load("a") == record


async def test_a_modified_record_reads_back_and_can_be_modified_again() -> None:
    # The earlier compressed store packed in save() only: after one modify() (every merged
    # session write, every token refresh) the record could no longer be read.
    store = MemorySessionStore(10)
    await store.save("a", RECORD, ttl=60)
    assert await store.modify("a", lambda record: {**record, "n": 1}) == {**RECORD, "n": 1}
    assert await store.load("a") == {**RECORD, "n": 1}
    assert await store.modify("a", lambda record: {**record, "n": record["n"] + 1}, ttl=60)
    assert await store.load("a") == {**RECORD, "n": 2}
    await store.save("p", {"return_to": "/"}, ttl=60, pending=True)
    await store.modify("p", lambda record: {**record, "csrf": "t"})
    assert await store.load("p") == {"return_to": "/", "csrf": "t"}


async def test_modify_counts_the_new_size_against_the_byte_bound() -> None:
    store = MemorySessionStore(1000, max_bytes=4000)
    for i in range(3):  # random hex: about 1,000 held bytes each
        await store.save(f"s{i}", {"pad": secrets.token_bytes(1000).hex()}, ttl=60)
    grown = {"pad": secrets.token_bytes(2000).hex()}
    await store.modify("s0", lambda record: grown)
    assert store.bytes <= 4000
    assert await store.load("s1") is None  # the least recently used went
    assert await store.load("s2") is not None
    assert await store.load("s0") == grown


async def test_links_shrink_to_one_session_and_grow_again() -> None:
    # A tag of one session is held as its id, of several as a set: each change of shape
    # must keep exactly the sessions linked.
    store = MemorySessionStore(10)
    for sid in ("a", "b", "c"):
        await store.save(sid, RECORD, ttl=60)
    await store.link("a", ["user", "user"], ttl=60)  # linked twice under one tag
    await store.link("b", ["user"], ttl=60)
    await store.delete("a")  # back to one session
    await store.link("c", ["user"], ttl=60)  # two again
    await store.delete("b")
    assert await store.delete_linked("user") == 1
    assert await store.load("c") is None
    assert await store.delete_linked("user") == 0


# Records read lately are kept unpacked: a load must still see every write since.


async def test_a_record_read_lately_comes_back_as_a_deep_copy() -> None:
    store = MemorySessionStore(10)
    await store.save("a", RECORD, ttl=60)
    for _ in range(3):  # the first load unpacks, the others use the kept copy
        loaded = await store.load("a")
        assert loaded == RECORD
        loaded["user"]["sub"] = "auth0|mallory"
        loaded["_state_auth0_x"].clear()
        loaded["n"] = 1
    assert await store.load("a") == RECORD


async def test_every_write_is_seen_by_the_next_load_of_a_record_read_lately() -> None:
    store = MemorySessionStore(10)
    await store.save("a", RECORD, ttl=60)
    await store.load("a")
    await store.save("a", {**RECORD, "n": 1}, ttl=60)
    assert await store.load("a") == {**RECORD, "n": 1}
    await store.modify("a", lambda record: {**record, "n": 2})
    assert await store.load("a") == {**RECORD, "n": 2}
    await store.save("a", {"return_to": "/"}, ttl=60, pending=True)  # moved to the other space
    assert await store.load("a") == {"return_to": "/"}
    await store.save("a", RECORD, ttl=60)
    assert await store.load("a") == RECORD
    await store.link("a", ["tenant-sid"], ttl=60)
    assert await store.delete_linked("tenant-sid") == 1
    assert await store.load("a") is None
    await store.save("a", RECORD, ttl=60)
    await store.load("a")
    await store.delete("a")
    assert await store.load("a") is None


async def test_an_evicted_or_expired_record_read_lately_is_gone() -> None:
    store = MemorySessionStore(1)
    await store.save("a", RECORD, ttl=60)
    await store.load("a")
    await store.save("b", RECORD, ttl=60)  # evicts "a"
    assert await store.load("a") is None
    await store.save("c", RECORD, ttl=1)
    await store.load("c")
    await asyncio.sleep(1.1)
    assert await store.load("c") is None


async def test_records_kept_unpacked_are_bounded_by_count_and_bytes() -> None:
    store = MemorySessionStore(1000)
    for i in range(RECENT_RECORDS * 2):
        await store.save(f"s{i}", {"i": i}, ttl=60)
        await store.load(f"s{i}")
    assert len(store._users.recent.entries) == RECENT_RECORDS
    assert "s0" not in store._users.recent.entries  # the least recently read went first
    assert await store.load("s0") == {"i": 0}  # unpacked again
    big = {"pad": secrets.token_bytes(RECENT_BYTES // 8).hex()}  # a quarter of the bytes
    for i in range(8):
        await store.save(f"big{i}", big, ttl=60)
        assert await store.load(f"big{i}") == big
    assert store._users.recent.bytes <= RECENT_BYTES
    assert len(store._users.recent.entries) < RECENT_RECORDS
