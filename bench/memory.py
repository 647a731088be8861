"""The web app's memory with many live sessions: `uv run python -m bench.memory`.

Runs tenant, API and app as processes (the app through `bench.seeding`, the real app plus a
route that copies a session), logs alice in for real, reads the app's RSS, fills the store
with copies of her logged-in session, and reads the RSS again.  Done once with the memory
store and once with Redis (a redis-server of its own on a free port), where Redis's
`used_memory` is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import redis

from bench.seeding import SEED_PATH
from testing.login import log_in, session_cookie
from testing.process_stack import ProcessStack, rss_bytes, running_process_stack, serving_pid
from testing.redis_server import RedisServer

DEFAULT_SESSIONS = 10_000
SEED_BATCH = 1_000  # copies per request: keeps each request short
SEEDED_TARGET = ("--factory", "bench.seeding:create_seeded_app")
MB = 1_000_000
TARGET_RSS = 100 * MB  # the target for the app with DEFAULT_SESSIONS live sessions


class RedisMissing(RuntimeError):
    """Raised when redis-server is not installed, so the Redis figure cannot be measured."""


@dataclass(frozen=True)
class MemoryFigures:
    """One store's figures: the app's RSS before and after, and the size of one session."""

    store: str
    sessions: int
    rss_before: int
    rss_after: int
    record_bytes: int  # the record's JSON
    held_bytes: int  # as the store holds it (the memory store: compressed)
    redis_used: int | None = None  # bytes Redis itself uses for the sessions

    @property
    def per_session(self) -> float:
        return (self.rss_after - self.rss_before) / self.sessions


async def _fill(system: ProcessStack, sessions: int) -> tuple[int, int]:
    """Log in for real, then copy that session `sessions` times; the size of its record
    (JSON, and as held)."""
    async with httpx.AsyncClient(base_url=system.app.url, timeout=30.0) as client:
        session_cookie(await log_in(client, system.app.url))  # LoginFailed unless logged in
        # A page and an API call as the user: the session is a real, working one.
        (await client.get("/external-api")).raise_for_status()
        (await client.get("/api/external")).raise_for_status()
        sizes = (0, 0)
        for start in range(0, sessions, SEED_BATCH):
            count = min(SEED_BATCH, sessions - start)
            seeded = await client.post(SEED_PATH, params={"count": count})
            seeded.raise_for_status()
            answer = seeded.json()
            sizes = (int(answer["record_bytes"]), int(answer["held_bytes"]))
        return sizes


def _measure(store: str, store_url: str, sessions: int) -> MemoryFigures:
    with running_process_stack(store_url, SEEDED_TARGET) as system:
        pid = serving_pid(system.app)
        before = rss_bytes(pid)
        record_bytes, held = asyncio.run(_fill(system, sessions))
        return MemoryFigures(store, sessions, before, rss_bytes(pid), record_bytes, held)


def measure_memory(sessions: int = DEFAULT_SESSIONS) -> list[MemoryFigures]:
    """Figures for the memory store, then for Redis (RedisMissing without redis-server)."""
    figures = [_measure("memory", "memory://", sessions)]
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisMissing("redis-server is not installed: apt-get install -y redis-server")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        server = RedisServer(executable, directory=Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            empty = int(client.info("memory")["used_memory"])
            result = _measure("redis", server.url, sessions)
            used = int(client.info("memory")["used_memory"]) - empty
            client.close()
        finally:
            server.stop(save=False)
    figures.append(replace(result, redis_used=used))
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS)
    args = parser.parse_args(argv)
    for figure in measure_memory(args.sessions):
        redis_part = f", Redis +{figure.redis_used / MB:.1f} MB" if figure.redis_used else ""
        print(
            f"{figure.store}: app RSS {figure.rss_before / MB:.1f} -> {figure.rss_after / MB:.1f}"
            f" MB with {figure.sessions} sessions of {figure.record_bytes} bytes"
            f" ({figure.held_bytes} held){redis_part}"
        )


if __name__ == "__main__":
    main()
