"""Two app processes on one Redis, behind a round-robin client: sessions keep working as
their access tokens expire, each refresh happens once, and a worker killed while it holds
a session's refresh lock does not wedge that session.

The app runs as two separate uvicorn processes on their own ports (as two hosts behind a
load balancer would), the API as a third; the dev tenant runs in this process, so the test
can hold its token endpoint, and reads its refresh-token families from its grants.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import SESSION_COOKIE
from app.redis_store import RedisSessionStore
from app.session_tokens import TOKEN_MIN_TTL, TOKENS_KEY
from devtenant.config import Settings as TenantSettings
from devtenant.main import create_app as create_tenant
from testing.login import ALICE, log_in, session_cookie
from testing.process_stack import api_process, app_process
from testing.processes import LOOPBACK, ManagedProcess
from testing.redis_server import RedisServer
from testing.servers import LiveServer, free_port

WORKERS = 2
SESSIONS = 12
CONCURRENCY = 64  # requests per session at once, spread over the workers
# Sessions stormed together: 3 x 64 requests keep each worker under its 100 upstream
# connections (app/http.py), so a busy machine queues nothing into a 504.
WAVE = 3
ROUNDS = 2  # expiries each session lives through
# Seconds an access token lives.  The app refreshes once fewer than TOKEN_MIN_TTL (60)
# remain, so a token is fresh for 10 s: long enough that one round of requests never
# meets the refreshed token as stale again.
TOKEN_LIFETIME = TOKEN_MIN_TTL + 10
LOCK_TIMEOUT = 3  # seconds a dead worker's refresh lock outlives it (REFRESH_LOCK_TIMEOUT)
REQUEST_TIMEOUT = 60.0  # seconds; far beyond any healthy answer on loopback
HOLD_WAIT = 30.0  # seconds to wait for the held refresh to reach the tenant


class TokenEndpointHold:
    """ASGI middleware in front of the tenant: while `holding`, a POST /oauth/token is
    never forwarded (as if the tenant had not yet answered) and `held` is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.holding = False
        self.held = threading.Event()  # set from the server's thread, waited on by the test's
        self.released = threading.Event()

    def release(self) -> None:
        self.holding = False
        self.released.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.holding and scope["type"] == "http" and scope["path"] == "/oauth/token":
            self.held.set()
            await asyncio.to_thread(self.released.wait, HOLD_WAIT)
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


@dataclass
class Cluster:
    tenant: LiveServer
    hold: TokenEndpointHold
    data_dir: Path
    workers: list[ManagedProcess]
    redis_url: str

    def families(self) -> list[dict[str, Any]]:
        """The tenant's refresh-token families, as it saved them after every token request."""
        document = json.loads((self.data_dir / "grants.json").read_text())
        families: list[dict[str, Any]] = document["families"]
        return families


@pytest.fixture
def cluster(redis_server: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    ports = [free_port() for _ in range(WORKERS)]
    urls = [f"http://{LOOPBACK}:{port}" for port in ports]
    tenant_port = free_port()
    issuer = f"http://{LOOPBACK}:{tenant_port}/"
    data_dir = tmp_path / "tenant"
    tenant_settings = TenantSettings(
        _env_file=None,
        devtenant_issuer=issuer,
        devtenant_data_dir=data_dir,
        devtenant_app_urls=urls,
        devtenant_access_token_lifetime=TOKEN_LIFETIME,
    )
    hold = TokenEndpointHold(create_tenant(tenant_settings))
    workdir = Path(tempfile.mkdtemp(prefix="scaleout-", dir=tmp_path))
    extra = {
        "REFRESH_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
        # 64 concurrent calls per session are this test's point, not the proxy's bounds
        # (app/proxy_limits.py; every session here is Alice's): both make room for a wave.
        "PROXY_MAX_CONCURRENT": str(WAVE * CONCURRENCY),
        "PROXY_MAX_CONCURRENT_PER_USER": str(WAVE * CONCURRENCY),
    }
    with ExitStack() as servers:
        tenant = servers.enter_context(LiveServer(hold, port=tenant_port))
        # Its own process: 512 concurrent calls must not queue behind this test's interpreter.
        api = servers.enter_context(api_process(free_port(), issuer, workdir))
        workers = [
            servers.enter_context(
                app_process(port, issuer, api.url, workdir, redis_server.url, extra_env=extra)
            )
            for port in ports
        ]
        yield Cluster(tenant, hold, data_dir, workers, redis_server.url)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=WAVE * CONCURRENCY, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as http:
        yield http


async def log_in_sessions(cluster: Cluster, count: int) -> list[str]:
    """`count` app sessions of Alice (one browser each), logged in round-robin."""
    cookies = []
    for index in range(count):
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as browser:
            worker = cluster.workers[index % len(cluster.workers)]
            cookies.append(session_cookie(await log_in(browser, worker.url, ALICE)))
    return cookies


async def wait_until_stale(cluster: Cluster, cookies: list[str]) -> None:
    """Sleep until every session's access token has under TOKEN_MIN_TTL seconds left."""
    store = RedisSessionStore(cluster.redis_url)
    try:
        latest = 0.0
        for cookie in cookies:
            record = await store.load(cookie.split(".")[0])
            assert record is not None, "a session is gone"
            latest = max(latest, *(t["expires_at"] for t in record[TOKENS_KEY].values()))
    finally:
        await store.aclose()
    await asyncio.sleep(max(0.0, latest - TOKEN_MIN_TTL - time.time() + 0.5))


async def storm(client: httpx.AsyncClient, cluster: Cluster, cookies: list[str]) -> Counter[str]:
    """CONCURRENCY requests per session at once, each to the next worker in turn, WAVE
    sessions at a time."""
    urls = [worker.url for worker in cluster.workers]

    async def call(index: int, cookie: str) -> str:
        answer = await client.get(
            f"{urls[index % len(urls)]}/api/external",
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
        )
        return str(answer.status_code)

    outcomes: Counter[str] = Counter()
    for start in range(0, len(cookies), WAVE):
        wave = cookies[start : start + WAVE]
        calls = [call(i, cookie) for cookie in wave for i in range(CONCURRENCY)]
        outcomes.update(await asyncio.gather(*calls))
    return outcomes


async def test_sessions_survive_expiries_with_one_refresh_each(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    cookies = await log_in_sessions(cluster, SESSIONS)
    for round_number in range(1, ROUNDS + 1):
        await wait_until_stale(cluster, cookies)
        outcomes = await storm(client, cluster, cookies)
        assert outcomes == Counter({"200": SESSIONS * CONCURRENCY}), outcomes  # no logouts
        families = cluster.families()
        assert len(families) == SESSIONS
        assert not [f for f in families if f["revoked"]], "the tenant detected reuse"
        # The login's refresh token, plus exactly one per expiry so far.
        assert sorted(len(f["issued"]) for f in families) == [1 + round_number] * SESSIONS


async def test_a_worker_killed_holding_the_refresh_lock_does_not_wedge_the_session(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    [cookie] = await log_in_sessions(cluster, 1)
    await wait_until_stale(cluster, [cookie])
    doomed, survivor = cluster.workers
    cluster.hold.holding = True
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    stuck = asyncio.ensure_future(client.get(f"{doomed.url}/api/external", headers=headers))
    # The doomed worker holds the session's lock and waits on the tenant: kill it there.
    assert await asyncio.to_thread(cluster.hold.held.wait, HOLD_WAIT)
    assert doomed.pid is not None
    os.killpg(doomed.pid, signal.SIGKILL)
    with pytest.raises(httpx.TransportError):
        await stuck
    cluster.hold.release()
    # The survivor waits out the dead holder's lock, then refreshes the session itself.
    answer = await client.get(f"{survivor.url}/api/external", headers=headers)
    assert answer.status_code == 200, answer.text
    [family] = cluster.families()
    assert not family["revoked"]
    assert len(family["issued"]) == 2  # the login's and the survivor's refresh
