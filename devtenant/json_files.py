"""Tenant state on disk: small JSON documents under the data folder.

Writes replace a file atomically (a temporary file in the same folder, then `os.replace`),
so a crash or a concurrent reader never sees half a document; inside the server an
asyncio lock serialises read-modify-write cycles so concurrent requests never lose edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Document = dict[str, Any]


def read_json(path: Path) -> Document:
    """The document at `path`, or an empty one when it does not exist yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: Document) -> None:
    """Replace `path` with `data` atomically (readable only by the owner: it may hold keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def reset(data_dir: Path) -> None:
    """Forget everything the tenant stored (users' edits, signing keys, refresh tokens)."""
    shutil.rmtree(data_dir, ignore_errors=True)


class JsonStore:
    """One JSON document that the server reads and updates under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    def read(self) -> Document:
        return read_json(self.path)

    async def update(self, change: Callable[[Document], None]) -> Document:
        """Apply `change` to the current document and save it; returns the new document."""
        async with self._lock:
            data = read_json(self.path)
            change(data)
            await asyncio.to_thread(write_json, self.path, data)
            return data

    async def replace(self, make: Callable[[], Document]) -> None:
        """Save the document `make` builds; it runs under the lock, so it sees the latest state."""
        async with self._lock:
            await asyncio.to_thread(write_json, self.path, make())
