"""The JSON store: atomic replacement and serialised read-modify-write."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devtenant.json_files import JsonStore, read_json, reset, write_json


def test_write_then_read_and_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "doc.json"
    write_json(path, {"a": 1})
    assert read_json(path) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["doc.json"]
    assert path.stat().st_mode & 0o077 == 0  # keys live here: owner only


def test_missing_file_reads_as_empty_and_reset_forgets(tmp_path: Path) -> None:
    assert read_json(tmp_path / "none.json") == {}
    write_json(tmp_path / "data" / "doc.json", {"a": 1})
    reset(tmp_path / "data")
    assert read_json(tmp_path / "data" / "doc.json") == {}


async def test_concurrent_updates_keep_every_change(tmp_path: Path) -> None:
    store = JsonStore(tmp_path / "doc.json")

    async def add(i: int) -> None:
        await store.update(lambda data: data.__setitem__(str(i), i))

    await asyncio.gather(*(add(i) for i in range(50)))
    assert store.read() == {str(i): i for i in range(50)}
