"""Load one URL with wrk (Debian's `wrk` package) and parse what it prints.

`run_wrk(url, token, duration, connections)` sends the same bearer token on every
request and returns throughput and latency percentiles.  Non-2xx answers and socket
errors are reported too: a benchmark of 401s would measure the wrong thing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DURATION = 10  # seconds per run
DEFAULT_CONNECTIONS = 64
DEFAULT_THREADS = 2
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_REQUESTS_PER_SEC = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkFailed(RuntimeError):
    """Raised when wrk is missing, exits with an error, or prints output we cannot parse."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles in milliseconds, and failures."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def clean(self) -> bool:
        """Whether every request got a 2xx/3xx answer."""
        return self.non_2xx == 0 and self.socket_errors == 0


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkFailed("wrk is not installed: apt-get install -y wrk")
    return path


def run_wrk(
    url: str,
    token: str | None,
    duration: float = DEFAULT_DURATION,
    connections: int = DEFAULT_CONNECTIONS,
    threads: int = DEFAULT_THREADS,
    headers: Sequence[str] = (),
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> WrkResult:
    """Load `url` for `duration` seconds, sending `Authorization: Bearer <token>` if given
    and each of `headers` ("Name: value"); `script` is a Lua script given `script_args`."""
    command = [
        wrk_path(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
    ]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["--script", str(script)]
    command += [url, *script_args]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise WrkFailed(f"wrk exited with {completed.returncode}: {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


def parse_wrk(output: str) -> WrkResult:
    """The numbers in wrk's `--latency` report."""
    rate = _REQUESTS_PER_SEC.search(output)
    total = _TOTAL.search(output)
    percentiles = {
        int(match[1]): float(match[2]) * _UNIT_MS[match[3]]
        for match in _PERCENTILE.finditer(output)
    }
    if rate is None or total is None or not {50, 99} <= percentiles.keys():
        raise WrkFailed(f"cannot parse wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_second=float(rate[1]),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
    )
