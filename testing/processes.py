"""Start and stop the servers a benchmark or an integration test runs as real processes.

A `ManagedProcess` is one child process serving HTTP on a loopback port: it starts the
command, waits until a readiness URL answers, and stops it (terminate, then kill).  The
child's output goes to a temporary file rather than a pipe, so a chatty server can never
block on a full pipe, and the tail is shown when it fails to start.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from testing.servers import StartStop

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT / "bench" / "reference"
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 30.0  # seconds: `uv run` and node can be slow on a cold machine
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.05  # seconds between readiness probes
_JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$", re.MULTILINE)
OUTPUT_TAIL = 2000  # characters of the child's output shown when it fails to start
# One worker, no reload, no access log: how the API runs in production.
UVICORN_COMMAND = ["uv", "run", "python", "-m", "serving", "api.main:app", "--log-level", "warning"]


class ProcessDidNotStart(RuntimeError):
    """Raised when a child exits while starting or has not answered within its timeout."""


class ManagedProcess(StartStop):
    """A child process serving HTTP at `url`, ready once `url + ready_path` answers."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        *,
        env: Mapping[str, str] | None = None,
        ready_path: str = "/",
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.port = port
        self.env = dict(env or {})
        self.ready_path = ready_path
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._output: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:54321."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = STARTUP_TIMEOUT) -> ManagedProcess:
        self._output = tempfile.NamedTemporaryFile(prefix=f"{self.name}-", suffix=".log")  # noqa: SIM115
        self._process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            # Its own process group, so stopping `uv run uvicorn ...` also stops uvicorn.
            start_new_session=True,
        )
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                if self._process is not None and (code := self._process.poll()) is not None:
                    message = f"{self.name} exited while starting (status {code}):\n"
                    raise ProcessDidNotStart(message + self.output())
                try:
                    client.get(self.url + self.ready_path)
                    return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    message = f"{self.name} did not answer in time:\n{self.output()}"
                    raise ProcessDidNotStart(message)
                time.sleep(POLL_INTERVAL)

    def output(self, tail: int | None = OUTPUT_TAIL) -> str:
        """What the child has printed so far: its last `tail` characters, or all of it."""
        if self._output is None:
            return ""
        text = Path(self._output.name).read_text(errors="replace")
        return text if tail is None else text[-tail:]

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            stop_process_group(process)
        if self._output is not None:
            self._output.close()
            self._output = None


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """End a child started with start_new_session and everything in its process group:
    SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    """Signal the child's own process group (it leads it: start_new_session)."""
    with contextlib.suppress(ProcessLookupError):  # it has already exited
        os.killpg(process.pid, signum)


def express_reference(
    issuer_url: str, audience: str, port: int, node: str = "node", dpop: str = "allowed"
) -> ManagedProcess:
    """Auth0's Express sample API (bench/reference/server.js), not started yet; `dpop` is
    its DPoP mode, named like our API's DPOP_MODE."""
    return ManagedProcess(
        "express-reference",
        [node, str(REFERENCE_DIR / "server.js")],
        port,
        env={
            "ISSUER_BASE_URL": issuer_url,
            "AUDIENCE": audience,
            "PORT": str(port),
            "HOST": LOOPBACK,
            "DPOP": dpop,
            # The library refuses http:// issuers in production; the tests use loopback http.
            "NODE_ENV": "development",
        },
        ready_path="/api/public",
        cwd=REFERENCE_DIR,
    )


def issuer_process(port: int, audience: str, cnf_jkt: str | None = None) -> ManagedProcess:
    """`python -m testing.issuer`: discovery + JWKS, counting fetches at /_counts; with
    `cnf_jkt`, it also prints a token bound to that DPoP key."""
    extra = ["--cnf-jkt", cnf_jkt] if cnf_jkt else []
    return ManagedProcess(
        "test-issuer",
        [
            sys.executable,
            "-m",
            "testing.issuer",
            "--port",
            str(port),
            "--audience",
            audience,
            *extra,
        ],
        port,
        # /_counts, not discovery: probing must not count as a fetch.
        ready_path="/_counts",
    )


def issuer_token(issuer: ManagedProcess, index: int = 0) -> str:
    """A valid token the issuer printed on start-up (see testing.issuer.main): the first,
    or with index 1 the DPoP-bound one."""
    tokens = _JWT.findall(issuer.output(tail=None))
    if len(tokens) <= index:
        raise ProcessDidNotStart(f"{issuer.name} printed no token:\n{issuer.output()}")
    return str(tokens[index])


def issuer_fetches(issuer: ManagedProcess) -> dict[str, int]:
    """How often discovery and the JWKS have been fetched so far."""
    counts: dict[str, int] = httpx.get(issuer.url + "/_counts", timeout=5.0).json()
    return counts


def our_api(issuer_url: str, audience: str, port: int) -> ManagedProcess:
    """Our API in one uvicorn process: no reload, no access log, like production."""
    return ManagedProcess(
        "our-api",
        [*UVICORN_COMMAND, "--host", LOOPBACK, "--port", str(port)],
        port,
        env={"AUTH0_ISSUER_BASE_URL": issuer_url, "AUTH0_AUDIENCE": audience},
        ready_path="/api/public",
    )
