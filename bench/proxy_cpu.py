"""The app's CPU per proxied request, in process: `uv run python -m bench.proxy_cpu`.

Starts the dev tenant and the API as processes on free loopback ports, gets alice's tokens
from the tenant by the code flow, and seeds a logged-in session (user, token set, refresh
token: what /callback stores) into an app built by `create_app()` in this process.  Then it
calls the app's ASGI callable directly on uvloop, one request at a time, with `GET
/api/external` and the session cookie: each call goes through every middleware, the proxy
and the real API over loopback.  The API runs in its own process, so `time.process_time()`
here is the app's CPU alone.  Prints µs of CPU per request, best of alternating rounds
(noise only ever adds), and with `--profile` the Python function calls per request and
cProfile's own time by component.  Quiet-machine figures are not needed: this is CPU.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop
from fastapi import FastAPI
from itsdangerous import TimestampSigner
from jose import jwt
from starlette.types import Message

from app.config import SESSION_COOKIE, Settings
from app.main import configure_logging, create_app
from app.session_middleware import CREATED, SEEN, SESSION_SALT
from app.session_state import new_session_id
from app.session_tokens import store_token_set
from bench.proxy import PATH, SCOPE, WEB_CLIENT
from testing.asgi import get_scope
from testing.login import ALICE, AUDIENCE
from testing.process_stack import SESSION_SECRET, api_process, tenant_process
from testing.processes import LOOPBACK
from testing.servers import free_port
from testing.tenant import code_flow

DEFAULT_REQUESTS = 2_000
DEFAULT_ROUNDS = 5
WARMUP_REQUESTS = 200
SESSION_TTL = 60 * 60
MAX_CALLER_DEPTH = 6  # callers followed to find whose a builtin's time is
# cProfile's tottime grouped by where the function lives (first match wins).
COMPONENTS = (
    ("/app/upstream", "our API transport"),
    ("/app/session", "session middleware + store"),
    ("/app/memory_store", "session middleware + store"),
    ("/app/redis_store", "session middleware + store"),
    ("/app/refresh_once", "session middleware + store"),
    ("/app/", "our proxy, interceptor, middleware"),
    ("/bench/", "this harness (receive, send)"),
    ("/httpx/", "httpx client layer"),
    ("/httpcore/", "httpcore + anyio + h11"),
    ("/anyio/", "httpcore + anyio + h11"),
    ("/h11/", "httpcore + anyio + h11"),
    ("/fastapi/", "FastAPI/Starlette"),
    ("/starlette/", "FastAPI/Starlette"),
    ("/logging/", "logging (access line)"),
    ("/itsdangerous/", "session middleware + store"),
    ("asyncio", "event loop glue"),
)


class AppUnderTest:
    """The in-process app with a seeded session, and one GET through it."""

    def __init__(self, app: FastAPI, cookie: str, host: str) -> None:
        self.app = app
        self.headers = [
            (b"host", host.encode()),
            (b"user-agent", b"wrk"),
            (b"accept", b"*/*"),
            (b"cookie", f"{SESSION_COOKIE}={cookie}".encode()),
        ]
        self.statuses: list[int] = []

    def scope(self) -> dict[str, Any]:
        return get_scope(PATH, list(self.headers), port=3000)

    async def call(self) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])

        await self.app(self.scope(), receive, send)

    async def cpu_us(self, requests: int) -> tuple[float, float]:
        """µs of CPU per request: user and system (the kernel's share of socket I/O)."""
        self.statuses.clear()
        started = os.times()
        for _ in range(requests):
            await self.call()
        ended = os.times()
        if set(self.statuses) != {200}:
            raise RuntimeError(f"{PATH} answered {sorted(set(self.statuses))}, not 200")
        user, system = ended.user - started.user, ended.system - started.system
        return user / requests * 1e6, system / requests * 1e6


async def seeded_session(app: FastAPI, settings: Settings, tokens: dict[str, Any]) -> str:
    """A logged-in session in the app's store, as /callback leaves it; its signed cookie."""
    now = time.time()
    claims = jwt.get_unverified_claims(tokens["id_token"])
    record: dict[str, Any] = {"user": {"sub": claims["sub"], "email": claims.get("email")}}
    store_token_set(record, tokens, AUDIENCE)
    sid = new_session_id()
    await app.state.session_store.save(sid, {**record, CREATED: now, SEEN: now}, SESSION_TTL)
    return TimestampSigner(settings.session_secret, salt=SESSION_SALT).sign(sid).decode()


def _own_component(filename: str) -> str | None:
    return next((label for key, label in COMPONENTS if key in filename), None)


def component_shares(stats: pstats.Stats) -> dict[str, float]:
    """cProfile's own time by component; a builtin or stdlib function's time goes to its
    callers' components (json.dumps called by the session counts as the session's)."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = defaultdict(float)

    def charge(func: Any, seconds: float, depth: int) -> None:
        own = _own_component(func[0])
        callers = raw[func][4] if func in raw else {}
        if own is not None or not callers or depth >= MAX_CALLER_DEPTH:
            totals[own or "other (event loop callbacks, stdlib)"] += seconds
            return
        edges = {caller: edge[2] for caller, edge in callers.items()}
        weight = sum(edges.values()) or float(len(edges))
        for caller, edge_seconds in edges.items():
            share = edge_seconds / weight if sum(edges.values()) else 1 / weight
            charge(caller, seconds * share, depth + 1)

    for func, (_, _, tottime, _, _) in raw.items():
        charge(func, tottime, 0)
    whole = sum(totals.values()) or 1.0
    return {name: share / whole for name, share in sorted(totals.items(), key=lambda i: -i[1])}


def _quiet_access_log() -> None:
    """The access line written as in production, to /dev/null."""
    configure_logging(logging.FileHandler(os.devnull))


async def measure(settings: Settings, tokens: dict[str, Any], args: argparse.Namespace) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        cookie = await seeded_session(app, settings, tokens)
        under_test = AppUnderTest(app, cookie, settings.app_base_url.split("//", 1)[1])
        for _ in range(WARMUP_REQUESTS):
            await under_test.call()
        rounds = [await under_test.cpu_us(args.requests) for _ in range(args.rounds)]
        user, system = min(rounds, key=sum)
        print(
            f"app CPU per proxied request: {user + system:.0f} µs ({user:.0f} user +"
            f" {system:.0f} system; best of {args.rounds} x {args.requests}, GET {PATH})"
        )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            await under_test.cpu_us(args.requests)
            profiler.disable()
            stats = pstats.Stats(profiler)
            calls = stats.total_calls / args.requests  # type: ignore[attr-defined]
            print(f"Python function calls per proxied request: {calls:.0f}")
            for name, share in component_shares(stats).items():
                print(f"  {name:<40} {share:6.1%}")
            if args.top:
                stats.sort_stats(args.sort).print_stats(args.top)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="proxy-cpu-") as tmp:
        workdir, app_url = Path(tmp), f"http://{LOOPBACK}:{free_port()}"
        with tenant_process(free_port(), workdir, [app_url]) as tenant:
            issuer = f"{tenant.url}/"
            with api_process(free_port(), issuer, workdir) as api:
                redirect = f"{app_url}/callback"
                tokens = await code_flow(issuer, WEB_CLIENT, redirect, SCOPE, AUDIENCE, *ALICE)
                settings = Settings(
                    _env_file=None,
                    auth0_issuer_base_url=issuer,
                    auth0_audience=AUDIENCE,
                    app_base_url=app_url,
                    api_base_url=api.url,
                    session_secret=SESSION_SECRET,
                )
                await measure(settings, tokens, args)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy_cpu", description=__doc__)
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--profile", action="store_true", help="cProfile one more round")
    parser.add_argument("--top", type=int, default=0, help="with --profile: top N functions")
    parser.add_argument("--sort", default="tottime", help="with --top: a pstats sort key")
    args = parser.parse_args(argv)
    _quiet_access_log()
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
