"""What the frontend's `/api/*` proxy adds: `uv run python -m bench.proxy`.

Runs tenant, API and app as processes on free loopback ports and logs alice in through the
app.  It also gets an access token for the same user, audience and scopes straight from the
tenant (the code flow the app runs, done by hand), so both paths present the same kind of
RS256 token to the same API.  wrk then loads, alternately,

- `{app}/api/external` with the session cookie (browser -> app -> API), and
- `{api}/api/external` with `Authorization: Bearer <token>` (browser -> API),

at 64 connections (the load) and at 1 connection (latency alone, no queueing), and the
difference of the medians is what the proxy adds.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from app.config import SESSION_COOKIE
from bench.wrk import WrkResult, run_wrk
from testing.login import ALICE, AUDIENCE, log_in, session_cookie
from testing.process_stack import LOAD_APP_ENV, ProcessStack, running_process_stack
from testing.tenant import code_flow

PATH = "/api/external"
LOADED_CONNECTIONS = 64
SINGLE_CONNECTION = 1
WARMUP_SECONDS = 1
DEFAULT_DURATION = 10  # seconds per wrk run
TARGET_ADDED_MS = 1.0
TARGET_THROUGHPUT_RATIO = 0.5  # proxied / direct req/s at LOADED_CONNECTIONS
WEB_CLIENT = ("quickstart-web", "quickstart-web-dev-secret")
SCOPE = "openid profile email offline_access read:messages"


@dataclass(frozen=True)
class ProxyFigures:
    """Medians and throughput of both paths at one number of connections."""

    connections: int
    direct: WrkResult
    proxied: WrkResult

    @property
    def added_p50_ms(self) -> float:
        return self.proxied.p50_ms - self.direct.p50_ms

    @property
    def throughput_ratio(self) -> float:
        return self.proxied.requests_per_second / self.direct.requests_per_second

    @property
    def failures(self) -> int:
        return sum(r.non_2xx + r.socket_errors for r in (self.direct, self.proxied))


async def direct_token(system: ProcessStack) -> str:
    """An access token for alice from the tenant, by the code flow with PKCE the app runs."""
    redirect_uri = f"{system.app.url}/callback"
    tokens = await code_flow(system.issuer, WEB_CLIENT, redirect_uri, SCOPE, AUDIENCE, *ALICE)
    return str(tokens["access_token"])


async def _credentials(system: ProcessStack) -> tuple[str, str]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        cookie = session_cookie(await log_in(client, system.app.url))
    return (
        f"Cookie: {SESSION_COOKIE}={cookie}",
        f"Authorization: Bearer {await direct_token(system)}",
    )


def _check(url: str, header: str) -> None:
    """Fail early unless the path answers 200: a benchmark of errors would measure nothing."""
    name, value = header.split(": ", 1)
    response = httpx.get(url, headers={name: value}, timeout=10.0)
    if response.status_code != 200:
        raise SystemExit(f"bench: {url} answered {response.status_code}, not 200")


def measure_proxy(
    duration: float = DEFAULT_DURATION,
    connection_counts: Sequence[int] = (LOADED_CONNECTIONS, SINGLE_CONNECTION),
) -> list[ProxyFigures]:
    with running_process_stack(app_env=LOAD_APP_ENV) as system:
        cookie, bearer = asyncio.run(_credentials(system))
        proxied_url, direct_url = system.app.url + PATH, system.api.url + PATH
        for url, header in ((proxied_url, cookie), (direct_url, bearer)):
            _check(url, header)
            run_wrk(url, None, WARMUP_SECONDS, LOADED_CONNECTIONS, headers=[header])
        figures = []
        for connections in connection_counts:
            direct = run_wrk(direct_url, None, duration, connections, headers=[bearer])
            proxied = run_wrk(proxied_url, None, duration, connections, headers=[cookie])
            figures.append(ProxyFigures(connections, direct, proxied))
        return figures


def describe(figure: ProxyFigures) -> str:
    return (
        f"{figure.connections:>3} conn: direct p50 {figure.direct.p50_ms:.2f} ms"
        f" ({figure.direct.requests_per_second:.0f} req/s), through the app p50"
        f" {figure.proxied.p50_ms:.2f} ms ({figure.proxied.requests_per_second:.0f} req/s),"
        f" added {figure.added_p50_ms:+.2f} ms, errors {figure.failures}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__)
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION)
    args = parser.parse_args(argv)
    for figure in measure_proxy(args.duration):
        print(describe(figure))


if __name__ == "__main__":
    main()
