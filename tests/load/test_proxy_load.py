"""20,000 requests through the app's `/api/*` proxy at 64 concurrent connections: no errors,
and the app's memory stays stable; once with one worker on the memory store, once with
two workers (WEB_CONCURRENCY=2) on Redis, as production runs it.

Tenant, API and app run as their own processes (testing.process_stack), so the app's RSS is its own
and the load is not slowed by sharing this test's interpreter.  Loopback only; bounded in
count, and every request has a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import SESSION_COOKIE
from testing.login import log_in, session_cookie
from testing.process_stack import LOAD_APP_ENV, ProcessStack, rss_bytes, running_process_stack
from testing.processes import ManagedProcess
from testing.redis_server import RedisServer

REQUESTS = 20_000
CONCURRENCY = 64
WARMUP = 2_000  # requests before the first RSS reading: pools, caches and arenas fill up
CLIENT_KEEPALIVE_EXPIRY = 2.0  # seconds; see the test
REQUEST_TIMEOUT = 30.0  # seconds; far beyond any healthy answer on loopback
# Allowed RSS growth over the 18,000 measured requests.  A leak of one small object per
# request (a kept response, header list or session copy: >= 2 kB) would add >= 36 MB;
# allocator noise after warm-up is a few MB.
MAX_GROWTH = 32 * 1024 * 1024


@pytest.fixture(params=["one worker, memory", "two workers, redis"])
def system(request: pytest.FixtureRequest) -> Iterator[ProcessStack]:
    if request.param == "one worker, memory":
        with running_process_stack(app_env=LOAD_APP_ENV) as running:
            yield running
        return
    redis: RedisServer = request.getfixturevalue("redis_server")
    with running_process_stack(
        redis.url, app_env={**LOAD_APP_ENV, "WEB_CONCURRENCY": "2"}
    ) as running:
        yield running


async def load(client: httpx.AsyncClient, count: int) -> Counter[str]:
    """`count` GETs of /api/external over CONCURRENCY connections; outcomes counted."""
    outcomes: Counter[str] = Counter()
    tickets = itertools.count()

    async def worker() -> None:
        while next(tickets) < count:
            try:
                answer = await client.get("/api/external")
                await answer.aread()
                outcomes[str(answer.status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(CONCURRENCY):
            group.create_task(worker())
    return outcomes


def serving_pids(process: ManagedProcess) -> list[int]:
    """The processes serving: uvicorn's workers (its children), or uvicorn itself."""
    assert process.pid is not None, f"{process.name} is not running"
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return [int(child) for child in children] or [process.pid]


async def test_20000_proxied_requests_without_errors_or_growth(system: ProcessStack) -> None:
    # Idle connections expire before uvicorn's 5 s keep-alive timeout: with equal timeouts a
    # client may reuse a connection just as the server closes it (a ReadError that
    # browsers absorb by retrying, and httpx does not), which says nothing about the app.
    limits = httpx.Limits(
        max_connections=CONCURRENCY,
        max_keepalive_connections=CONCURRENCY,
        keepalive_expiry=CLIENT_KEEPALIVE_EXPIRY,
    )
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as login_client:
        cookie = session_cookie(await log_in(login_client, system.app.url))
    async with httpx.AsyncClient(
        base_url=system.app.url,
        cookies={SESSION_COOKIE: cookie},
        timeout=REQUEST_TIMEOUT,
        limits=limits,
    ) as client:
        pids = serving_pids(system.app)
        warmup = await load(client, WARMUP)
        before = sum(rss_bytes(pid) for pid in pids)
        measured = await load(client, REQUESTS - WARMUP)
        after = sum(rss_bytes(pid) for pid in pids)
    outcomes = warmup + measured
    assert outcomes == Counter({"200": REQUESTS}), outcomes
    assert after - before < MAX_GROWTH, f"RSS grew {(after - before) / 1e6:.1f} MB"
