"""Our API's public route against a bare FastAPI endpoint: `uv run python -m bench.public`.

Both run as one uvicorn process each (no reload, no access log from uvicorn), on free
loopback ports; wrk loads `GET /api/public` on each, alternating (ours, bare, ours, bare),
and the ratio of the mean throughputs is what our middleware (CORS, security headers,
access log) and routing cost on a route that does nothing else.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.wrk import DEFAULT_CONNECTIONS, DEFAULT_DURATION, WrkResult, run_wrk
from testing.issuer import DEFAULT_AUDIENCE
from testing.processes import LOOPBACK, UVICORN_COMMAND, ManagedProcess, our_api
from testing.servers import free_port

PATH = "/api/public"
WARMUP_SECONDS = 1
DEFAULT_ROUNDS = 2
TARGET_RATIO = 0.9
# /api/public never fetches keys: any loopback issuer lets the API start.
UNUSED_ISSUER = f"http://{LOOPBACK}:9/"
API_TARGET, BARE_TARGET = "api.main:app", "bench.bare:app"


@dataclass(frozen=True)
class PublicFigures:
    ours: list[WrkResult]
    bare: list[WrkResult]

    @property
    def ours_rps(self) -> float:
        return statistics.mean(run.requests_per_second for run in self.ours)

    @property
    def bare_rps(self) -> float:
        return statistics.mean(run.requests_per_second for run in self.bare)

    @property
    def ratio(self) -> float:
        return self.ours_rps / self.bare_rps

    @property
    def failures(self) -> int:
        return sum(run.non_2xx + run.socket_errors for run in (*self.ours, *self.bare))


def bare_process(port: int) -> ManagedProcess:
    """`bench.bare:app` run exactly as our API is (testing.processes.our_api)."""
    command = [BARE_TARGET if arg == API_TARGET else arg for arg in UVICORN_COMMAND]
    command += ["--host", LOOPBACK, "--port", str(port)]
    return ManagedProcess("bare-fastapi", command, port, ready_path=PATH)


def measure_public(
    duration: float = DEFAULT_DURATION,
    rounds: int = DEFAULT_ROUNDS,
    connections: int = DEFAULT_CONNECTIONS,
) -> PublicFigures:
    ours: list[WrkResult] = []
    bare: list[WrkResult] = []
    with (
        our_api(UNUSED_ISSUER, DEFAULT_AUDIENCE, free_port()) as ours_process,
        bare_process(free_port()) as bare_server,
    ):
        servers = [(ours_process.url + PATH, ours), (bare_server.url + PATH, bare)]
        for url, _ in servers:
            run_wrk(url, None, WARMUP_SECONDS, connections)
        for _ in range(rounds):
            for url, runs in servers:
                runs.append(run_wrk(url, None, duration, connections))
    return PublicFigures(ours, bare)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.public", description=__doc__)
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    args = parser.parse_args(argv)
    figures = measure_public(args.duration, args.rounds)
    print(
        f"GET {PATH}, wrk {DEFAULT_CONNECTIONS} connections, {args.rounds} x {args.duration:g}s"
        f" each, alternating: ours {figures.ours_rps:.0f} req/s, bare FastAPI"
        f" {figures.bare_rps:.0f} req/s, ratio {figures.ratio:.2f} (target >= {TARGET_RATIO})"
    )


if __name__ == "__main__":
    main()
