"""What each layer of the API costs per request, in process: `uv run python -m bench.layers`.

Calls the API's ASGI app directly (no sockets) with `GET /api/public` and `GET
/api/private` (one valid token, so the verified-token cache answers after the first
call) and prints microseconds of CPU per request for: the full app; `/api/private` with
a DPoP-bound token and a new ES256 proof each request; the full app with the access line
off; a CORS request (an allowed `Origin`, so Starlette's CORS middleware runs); the
routes served by FastAPI's own request handler instead of `DirectRoute`'s; no middleware
(no `ApiEdge`, the API's one layer); a bare FastAPI endpoint; and the full app and the
bare endpoint served by uvicorn's protocol as `python -m serving` runs it
(`BoundedHttpToolsProtocol` on one kept-alive connection whose transport only notes what
is written: request parsing, scope, task and response head included; sockets and kernel
not).  Differences between rows are what a layer costs.  Logging is configured as the
API's entry point does it (api/logs.py, to /dev/null), and each request gets its own
event-loop iteration, as under uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import uvloop
from fastapi import FastAPI
from starlette.types import ASGIApp, Message
from uvicorn.config import Config
from uvicorn.server import ServerState

from api.config import Settings
from api.logs import configure_logging
from api.main import create_app
from api.routing import DirectRoute
from bench.bare import bare_app
from serving.protocol import BoundedHttpToolsProtocol
from testing.asgi import get_scope
from testing.dpop import DpopKey
from testing.issuer import TestIssuer
from testing.servers import LiveServer

DEFAULT_REQUESTS = 5_000
DEFAULT_ROUNDS = 5
WARMUP_REQUESTS = 100
PATHS = ("/api/public", "/api/private")
HOST = "127.0.0.1:3001"


Headers = list[tuple[bytes, bytes]]
# path -> one request's headers beyond BASE_HEADERS (made anew for every request)
HeaderMaker = Callable[[str], Headers]
BASE_HEADERS: Headers = [(b"host", HOST.encode()), (b"user-agent", b"wrk"), (b"accept", b"*/*")]


def _scope(path: str, headers: Headers) -> dict[str, Any]:
    return get_scope(path, [*BASE_HEADERS, *headers], port=3001)


@dataclass(frozen=True)
class Variant:
    """One row's app, and its requests: their headers, with or without the access line."""

    label: str
    build: Callable[[], FastAPI]
    headers: HeaderMaker
    access_line: bool = True
    paths: tuple[str, ...] = PATHS
    served: bool = False  # through uvicorn's protocol, as `python -m serving` runs it


class _Transport(asyncio.Transport):
    """A connection that is never slow and only notes the statuses written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: set[bytes] = set()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if bytes(data[:9]) == b"HTTP/1.1 ":
            self.statuses.add(bytes(data[9:12]))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        addresses = {"sockname": ("127.0.0.1", 3001), "peername": ("127.0.0.1", 50000)}
        return addresses.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _served_us(app: ASGIApp, path: str, headers: HeaderMaker, requests: int) -> float:
    """Per request through `BoundedHttpToolsProtocol` on one kept-alive connection: the
    request's bytes parsed, the app called, the response's head and body written; only
    the sockets and the kernel are left out."""
    config = Config(app=app, lifespan="off", access_log=False, log_level="warning")
    config.load()  # as uvicorn.run does: the proxy-headers middleware around the app
    protocol = BoundedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)

    def raw(path: str) -> bytes:
        lines = [b"GET " + path.encode() + b" HTTP/1.1"]
        lines += [name + b": " + value for name, value in [*BASE_HEADERS, *headers(path)]]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    async def serve(request: bytes) -> None:
        protocol.data_received(request)
        for task in list(protocol.tasks):  # the request's ASGI task, started by uvicorn
            await task

    for _ in range(WARMUP_REQUESTS):
        await serve(raw(path))
    payloads = [raw(path) for _ in range(requests)]
    started = time.process_time()
    for request in payloads:
        await serve(request)
    elapsed = time.process_time() - started
    if transport.closed or transport.statuses != {b"200"}:
        raise RuntimeError(f"{path}: answered {sorted(transport.statuses)}, not 200")
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


async def _per_request_us(app: ASGIApp, path: str, headers: HeaderMaker, requests: int) -> float:
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(WARMUP_REQUESTS):  # caches filled, code paths taken once
        await app(_scope(path, headers(path)), receive, send)
    statuses.clear()
    scopes = [_scope(path, headers(path)) for _ in range(requests)]  # made before timing
    started = time.process_time()
    for scope in scopes:
        await app(scope, receive, send)
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


def _fastapi_handler(build: Callable[[], FastAPI]) -> FastAPI:
    return _with_fastapi_handler(build())


def _no_middleware(build: Callable[[], FastAPI]) -> FastAPI:
    return _without_middleware(build())


def _bearer(token: str) -> HeaderMaker:
    return lambda path: [(b"authorization", f"Bearer {token}".encode())]


def _dpop(issuer: TestIssuer) -> HeaderMaker:
    """A DPoP-bound token with a new proof for every request (a proof is accepted once)."""
    key = DpopKey.generate()
    token = issuer.token(cnf={"jkt": key.thumbprint})

    def headers(path: str) -> Headers:
        proof = key.proof("GET", f"http://{HOST}{path}", token)
        return [(b"authorization", f"DPoP {token}".encode()), (b"dpop", proof.encode())]

    return headers


def variants(settings: Settings, issuer: TestIssuer) -> list[Variant]:
    def build() -> FastAPI:
        return create_app(settings)

    bearer = _bearer(issuer.token())
    origin = settings.cors_allowed_origins[0].encode()

    def from_origin(path: str) -> Headers:
        return [*bearer(path), (b"origin", origin)]

    return [
        Variant("full app", build, bearer),
        Variant("full app, DPoP (a new proof each)", build, _dpop(issuer), paths=PATHS[1:]),
        Variant("full app, access line off", build, bearer, access_line=False),
        Variant("full app, CORS request (Origin)", build, from_origin),
        Variant("full app, FastAPI's route handler", partial(_fastapi_handler, build), bearer),
        Variant("no middleware (no ApiEdge)", partial(_no_middleware, build), bearer),
        Variant("bare FastAPI", bare_app, bearer, paths=PATHS[:1]),
        Variant("served by uvicorn: full app", build, bearer, served=True),
        Variant("served by uvicorn: bare FastAPI", bare_app, bearer, paths=PATHS[:1], served=True),
    ]


async def measure(
    settings: Settings, issuer: TestIssuer, requests: int, rounds: int
) -> list[tuple[str, float]]:
    access = logging.getLogger("api.access")
    best: dict[str, float] = {}
    for _ in range(rounds):  # alternating, keeping each row's best: noise only ever adds
        for variant in variants(settings, issuer):
            app = variant.build()
            access.setLevel(logging.INFO if variant.access_line else logging.WARNING)
            async with app.router.lifespan_context(app):
                for path in variant.paths:
                    run = _served_us if variant.served else _per_request_us
                    us = await run(app, path, variant.headers, requests)
                    key = f"{path:<13} {variant.label}"
                    best[key] = min(us, best.get(key, us))
    access.setLevel(logging.INFO)
    return sorted(best.items(), key=lambda row: row[0][:13], reverse=True)  # by path


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
        # uvloop, as uvicorn runs the API (its `loop="auto"` picks uvloop when installed).
        rows = uvloop.run(measure(settings, issuer, args.requests, args.rounds))
    print(f"µs of CPU per request, in process, best of {args.rounds} x {args.requests} requests")
    for label, us in rows:
        print(f"{label:<50} {us:7.1f}")


if __name__ == "__main__":
    main()
