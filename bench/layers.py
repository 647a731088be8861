"""What each layer of the API costs per request, in process: `uv run python -m bench.layers`.

Calls the API's ASGI app directly (no server, no sockets) with `GET /api/public` and
`GET /api/private` (one valid token, so the verified-token cache answers after the first
call) and prints microseconds of CPU per request for: the full app; the same with the
access line off; a CORS request (an allowed `Origin`, so Starlette's CORS middleware
runs); the routes served by FastAPI's own request handler instead of `DirectRoute`'s;
no middleware (no `ApiEdge`, the API's one layer); and a bare FastAPI endpoint.
Differences between rows are what a layer costs; uvicorn's own share is not here (it is
the same for every row).  Logging is configured as the API's entry point does it
(api/logs.py, to /dev/null), and each request gets its own event-loop iteration, as
under uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import uvloop
from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from api.config import Settings
from api.logs import configure_logging
from api.main import create_app
from api.routing import DirectRoute
from bench.bare import bare_app
from testing.issuer import TestIssuer
from testing.servers import LiveServer

DEFAULT_REQUESTS = 5_000
DEFAULT_ROUNDS = 5
PATHS = ("/api/public", "/api/private")


def _scope(path: str, token: str | None, origin: str | None) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:3001"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3001),
        "state": {},
    }


@dataclass(frozen=True)
class Variant:
    """One row's app, and how it is called: with an `Origin` header, with the access line."""

    label: str
    build: Callable[[], FastAPI]
    origin: str | None = None
    access_line: bool = True
    paths: tuple[str, ...] = PATHS


async def _per_request_us(
    app: ASGIApp, path: str, token: str | None, origin: str | None, requests: int
) -> float:
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(100):  # warm-up: caches filled, code paths taken once
        await app(_scope(path, token, origin), receive, send)
    statuses.clear()
    started = time.process_time()
    for _ in range(requests):
        await app(_scope(path, token, origin), receive, send)
        await asyncio.sleep(0)  # one loop iteration per request, as under uvicorn
    elapsed = time.process_time() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"{path} answered {sorted(set(statuses))}, not 200")
    return elapsed / requests * 1e6


def _without_middleware(app: FastAPI) -> FastAPI:
    app.user_middleware = []
    return app


def _with_fastapi_handler(app: FastAPI) -> FastAPI:
    """The routes served by FastAPI's own request handler instead of `DirectRoute`'s."""
    for route in app.routes:
        if isinstance(route, DirectRoute):
            route.app = route.fastapi_app
    return app


def variants(settings: Settings) -> list[Variant]:
    def build() -> FastAPI:
        return create_app(settings)

    return [
        Variant("full app", build),
        Variant("full app, access line off", build, access_line=False),
        Variant("full app, CORS request (Origin)", build, origin=settings.cors_allowed_origins[0]),
        Variant("full app, FastAPI's route handler", lambda: _with_fastapi_handler(build())),
        Variant("no middleware (no ApiEdge)", lambda: _without_middleware(build())),
        Variant("bare FastAPI", bare_app, paths=PATHS[:1]),
    ]


async def measure(
    settings: Settings, token: str, requests: int, rounds: int
) -> list[tuple[str, float]]:
    access = logging.getLogger("api.access")
    best: dict[str, float] = {}
    for _ in range(rounds):  # alternating, keeping each row's best: noise only ever adds
        for variant in variants(settings):
            app = variant.build()
            access.setLevel(logging.INFO if variant.access_line else logging.WARNING)
            async with app.router.lifespan_context(app):
                for path in variant.paths:
                    us = await _per_request_us(app, path, token, variant.origin, requests)
                    key = f"{path:<13} {variant.label}"
                    best[key] = min(us, best.get(key, us))
    access.setLevel(logging.INFO)
    return list(best.items())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.layers", description=__doc__)
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    args = parser.parse_args(argv)
    # As the API's entry point configures it (api/logs.py), writing to /dev/null.
    configure_logging(open(os.devnull, "w"))  # noqa: SIM115 - for the process's lifetime
    issuer = TestIssuer()
    with LiveServer(issuer.app) as server:
        issuer.serve_at(server.url)
        settings = Settings(
            _env_file=None, auth0_issuer_base_url=issuer.url, auth0_audience=issuer.audience
        )
        token = issuer.token()
        # uvloop, as uvicorn runs the API (its `loop="auto"` picks uvloop when installed).
        rows = uvloop.run(measure(settings, token, args.requests, args.rounds))
    print(f"µs of CPU per request, in process, best of {args.rounds} x {args.requests} requests")
    for label, us in rows:
        print(f"{label:<50} {us:7.1f}")


if __name__ == "__main__":
    main()
