"""Throughput of our API against Auth0's Express reference: `uv run python -m bench.api`.

Starts a test issuer, our API (one uvicorn process) and the Express sample API (one node
process) on free loopback ports, warms both up, then loads `/api/private` on each with
the same valid token using wrk, alternating (ours, express, ours, express, ...) so drift
in the machine's speed hits both alike.  Prints one table: req/s, p50/p99 latency, the
ratio ours/express, and how often each server fetched discovery and the JWKS.

Fetches are attributed to a server by reading the issuer's counters before and after each
phase in which only that server is under load (neither fetches in the background).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from bench.wrk import DEFAULT_CONNECTIONS, DEFAULT_DURATION, WrkResult, run_wrk
from testing.issuer import DEFAULT_AUDIENCE
from testing.processes import (
    ManagedProcess,
    express_reference,
    issuer_fetches,
    issuer_process,
    issuer_token,
    our_api,
)
from testing.servers import free_port

PATH = "/api/private"
WARMUP_SECONDS = 2
DEFAULT_ROUNDS = 2  # ours, express, ours, express
TARGET_RATIO = 1.0


@dataclass
class Contender:
    """One server under test, with what it measured and fetched across the run."""

    name: str
    process: ManagedProcess
    runs: list[WrkResult] = field(default_factory=list)
    fetches: Counter[str] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return statistics.mean(run.requests_per_second for run in self.runs)

    @property
    def p50(self) -> float:
        return statistics.mean(run.p50_ms for run in self.runs)

    @property
    def p99(self) -> float:
        return statistics.mean(run.p99_ms for run in self.runs)

    @property
    def failures(self) -> int:
        return sum(run.non_2xx + run.socket_errors for run in self.runs)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--duration", type=int, default=DEFAULT_DURATION, help="seconds per run")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="runs per server")
    return parser.parse_args(argv)


@contextmanager
def fetches_charged_to(contender: Contender, issuer: ManagedProcess) -> Iterator[None]:
    """Add the issuer fetches made meanwhile to `contender` (the only server under load)."""
    before = Counter(issuer_fetches(issuer))
    yield
    contender.fetches.update(Counter(issuer_fetches(issuer)) - before)


def check_token_accepted(contender: Contender, token: str) -> None:
    """Fail early if the token is refused: a benchmark of 401s would measure nothing."""
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(contender.process.url + PATH, headers=headers, timeout=10)
    if response.status_code != 200:
        sys.exit(f"bench: {contender.name} refused the token ({response.status_code})")


def table(ours: Contender, express: Contender) -> str:
    ratio = ours.rps / express.rps
    verdict = "ok" if ratio >= TARGET_RATIO else f"below target {TARGET_RATIO:.1f}"
    rows = [
        f"{'server':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'jwks':>5} {'disc':>5}"
        f" {'errors':>7}",
    ]
    for contender in (ours, express):
        rows.append(
            f"{contender.name:<10} {contender.rps:>10.0f} {contender.p50:>8.2f}"
            f" {contender.p99:>8.2f} {contender.fetches['jwks']:>5}"
            f" {contender.fetches['discovery']:>5} {contender.failures:>7}"
        )
    rows.append(f"ratio ours/express: {ratio:.2f} ({verdict})")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with issuer_process(free_port(), DEFAULT_AUDIENCE) as issuer:
        issuer_url = issuer.url + "/"
        token = issuer_token(issuer)
        with (
            our_api(issuer_url, DEFAULT_AUDIENCE, free_port()) as ours_process,
            express_reference(issuer_url, DEFAULT_AUDIENCE, free_port()) as express_process,
        ):
            contenders = [Contender("ours", ours_process), Contender("express", express_process)]
            for contender in contenders:
                with fetches_charged_to(contender, issuer):
                    check_token_accepted(contender, token)
                    run_wrk(contender.process.url + PATH, token, WARMUP_SECONDS, args.connections)
            for _ in range(args.rounds):
                for contender in contenders:
                    with fetches_charged_to(contender, issuer):
                        result = run_wrk(
                            contender.process.url + PATH, token, args.duration, args.connections
                        )
                    contender.runs.append(result)
    ours, express = contenders
    print(
        f"GET {PATH}, one valid RS256 token, wrk {args.connections} connections,"
        f" {args.rounds} x {args.duration}s each, alternating"
    )
    print(table(ours, express))


if __name__ == "__main__":
    main()
