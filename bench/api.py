"""Throughput of our API against Auth0's Express reference: `uv run python -m bench.api`.

Starts a test issuer, our API (one uvicorn process) and the Express sample API (one node
process) on free loopback ports, warms both up, then loads `/api/private` on each with
the same valid token using wrk, alternating (ours, express, ours, express, ...) so drift
in the machine's speed hits both alike.  Prints one table: req/s, p50/p99 latency, the
ratio ours/express, and how often each server fetched discovery and the JWKS.  Then the
same with a DPoP-bound token and a fresh ES256 proof per request (`bench.dpop`), both
servers with DPoP allowed (their default): `--scheme bearer|dpop|both`.

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
from typing import Any

import httpx

from bench.dpop import LUA_SCRIPT, proof_pool
from bench.wrk import DEFAULT_CONNECTIONS, DEFAULT_DURATION, DEFAULT_THREADS, WrkResult, run_wrk
from testing.dpop import DpopKey
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
TARGET_RATIO = 1.5  # issue 11: Bearer at 1.5x Express, one process each
DPOP_TARGET_RATIO = 1.0  # proofs are verified per request (no cache): parity is the aim
SCHEMES = ("bearer", "dpop")


@dataclass(frozen=True)
class Load:
    """What every request of a run carries: a token in one scheme (a key signs DPoP proofs)."""

    scheme: str
    token: str
    key: DpopKey | None = None

    def headers(self, url: str) -> dict[str, str]:
        """Headers for one request to `url` (a single check, not the load)."""
        if self.key is None:
            return {"Authorization": f"Bearer {self.token}"}
        return {
            "Authorization": f"DPoP {self.token}",
            "DPoP": self.key.proof("GET", url, self.token),
        }

    def run(self, url: str, duration: float, connections: int) -> WrkResult:
        if self.key is None:
            return run_wrk(url, self.token, duration, connections)
        threads = min(DEFAULT_THREADS, connections)
        with proof_pool(self.key, url, self.token, duration, threads) as script_args:
            return run_wrk(
                url,
                None,
                duration,
                connections,
                headers=[f"Authorization: DPoP {self.token}"],
                script=LUA_SCRIPT,
                script_args=script_args,
            )


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
    parser.add_argument("--scheme", choices=[*SCHEMES, "both"], default="both")
    return parser.parse_args(argv)


@contextmanager
def fetches_charged_to(contender: Contender, issuer: ManagedProcess) -> Iterator[None]:
    """Add the issuer fetches made meanwhile to `contender` (the only server under load)."""
    before = Counter(issuer_fetches(issuer))
    yield
    contender.fetches.update(Counter(issuer_fetches(issuer)) - before)


def check_token_accepted(contender: Contender, load: Load) -> None:
    """Fail early if the token is refused: a benchmark of 401s would measure nothing."""
    url = contender.process.url + PATH
    response = httpx.get(url, headers=load.headers(url), timeout=10)
    if response.status_code != 200:
        sys.exit(f"bench: {contender.name} refused the token ({response.status_code})")


def table(ours: Contender, express: Contender, target: float = TARGET_RATIO) -> str:
    ratio = ours.rps / express.rps
    verdict = "ok" if ratio >= target else f"below target {target:.1f}"
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


def measure(
    load: Load, processes: list[tuple[str, ManagedProcess]], issuer: ManagedProcess, args: Any
) -> tuple[Contender, Contender]:
    """Warm up, then load each server in turn for `args.rounds` rounds."""
    contenders = [Contender(name, process) for name, process in processes]
    for contender in contenders:
        with fetches_charged_to(contender, issuer):
            check_token_accepted(contender, load)
            load.run(contender.process.url + PATH, WARMUP_SECONDS, args.connections)
    for _ in range(args.rounds):
        for contender in contenders:
            with fetches_charged_to(contender, issuer):
                result = load.run(contender.process.url + PATH, args.duration, args.connections)
            contender.runs.append(result)
    ours, express = contenders
    return ours, express


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    key = DpopKey.generate()
    schemes = SCHEMES if args.scheme == "both" else (args.scheme,)
    with issuer_process(free_port(), DEFAULT_AUDIENCE, cnf_jkt=key.thumbprint) as issuer:
        issuer_url = issuer.url + "/"
        loads = {
            "bearer": Load("bearer", issuer_token(issuer)),
            "dpop": Load("dpop", issuer_token(issuer, index=1), key),
        }
        with (
            our_api(issuer_url, DEFAULT_AUDIENCE, free_port()) as ours_process,
            express_reference(issuer_url, DEFAULT_AUDIENCE, free_port()) as express_process,
        ):
            processes = [("ours", ours_process), ("express", express_process)]
            results = {
                scheme: measure(loads[scheme], processes, issuer, args) for scheme in schemes
            }
    for scheme, (ours, express) in results.items():
        token = (
            "one valid RS256 token"
            if scheme == "bearer"
            else "DPoP: a bound token, a fresh ES256 proof per request"
        )
        print(
            f"GET {PATH}, {token}, wrk {args.connections} connections,"
            f" {args.rounds} x {args.duration}s each, alternating"
        )
        print(table(ours, express, TARGET_RATIO if scheme == "bearer" else DPOP_TARGET_RATIO))


if __name__ == "__main__":
    main()
