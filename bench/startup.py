"""Start-up time of the whole system: `uv run python -m bench.startup`.

Spawns `honcho start` as a person does (the repository's Procfile, settings from
`.env.example`) and times it until the web app, the API and the dev tenant all answer HTTP.
The Procfile's fixed ports 3000/3001/4000 are used when they are free; when one is busy
(say a developer's own `scripts/dev`), a copy of the Procfile on free ports is used instead,
and the report says so.  The tenant's data directory starts empty and is kept across runs, as
`.devtenant/` is: the first start makes the signing keys, later ones read them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from testing.processes import (
    LOOPBACK,
    OUTPUT_TAIL,
    REPO_ROOT,
    STARTUP_TIMEOUT,
    stop_process_group,
)
from testing.servers import free_port

FIXED_PORTS = {"web": 3000, "api": 3001, "tenant": 4000}
# What answering means for each: a page, a public API route, the discovery document.
READY_PATHS = {"web": "/", "api": "/api/public", "tenant": "/.well-known/openid-configuration"}
POLL_INTERVAL = 0.02  # seconds between probes: fine enough for a 2 s target
DEFAULT_RUNS = 3
TARGET_SECONDS = 2.0


class StartupFailed(RuntimeError):
    """Raised when honcho exits, or the services have not all answered within the timeout."""


@dataclass(frozen=True)
class StartupFigures:
    seconds: list[float]
    fixed_ports: bool  # the Procfile as it is (True) or a copy on free ports

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn binds: connections of a server that just stopped must not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _env_file(ports: dict[str, int], data_dir: Path, path: Path) -> None:
    """`.env.example` with the URLs pointed at `ports` and the tenant's data in `data_dir`."""
    web, api, tenant = (f"http://localhost:{ports[name]}" for name in ("web", "api", "tenant"))
    overrides = {
        "APP_BASE_URL": web,
        "API_BASE_URL": api,
        "CORS_ALLOWED_ORIGINS": web,
        "AUTH0_ISSUER_BASE_URL": f"{tenant}/",
        "DEVTENANT_ISSUER": f"{tenant}/",
        "DEVTENANT_DATA_DIR": str(data_dir),
        # Single quotes: honcho's env-file parser would otherwise eat JSON's double quotes.
        "DEVTENANT_APP_URLS": f"'{json.dumps([web, web.replace('localhost', LOOPBACK)])}'",
    }
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in overrides]
    path.write_text("\n".join([*kept, *(f"{k}={v}" for k, v in overrides.items())]) + "\n")


def _procfile(ports: dict[str, int], path: Path) -> Path:
    """The Procfile itself when on its own ports, else a copy on `ports`."""
    original = REPO_ROOT / "Procfile"
    if ports == FIXED_PORTS:
        return original
    text = original.read_text()
    for name, port in FIXED_PORTS.items():
        text = text.replace(f"--port {port}", f"--port {ports[name]}")
    path.write_text(text)
    return path


def _wait_until_all_answer(
    honcho: subprocess.Popen[bytes], ports: dict[str, int], log: Path
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    waiting = {name: f"http://{LOOPBACK}:{ports[name]}{READY_PATHS[name]}" for name in ports}
    with httpx.Client(timeout=1.0) as client:
        while waiting:
            if honcho.poll() is not None:
                tail = log.read_text(errors="replace")[-OUTPUT_TAIL:]
                raise StartupFailed(f"honcho exited with {honcho.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise StartupFailed(f"no answer from {', '.join(sorted(waiting))} in time")
            for name, url in list(waiting.items()):
                with suppress(httpx.TransportError):
                    client.get(url)
                    del waiting[name]
            time.sleep(POLL_INTERVAL)


def time_one_start(ports: dict[str, int], tenant_data: Path) -> float:
    """Seconds from spawning `honcho start` until web, API and tenant all answer."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        workdir = Path(tmp)
        env_file = workdir / "env"
        _env_file(ports, tenant_data, env_file)
        procfile = _procfile(ports, workdir / "Procfile")
        honcho = str(Path(sys.executable).with_name("honcho"))
        command = [honcho, "-e", str(env_file), "-f", str(procfile), "-d", str(REPO_ROOT)]
        command.append("start")
        # The Procfile's commands (uvicorn, python) are found on PATH: the project's first.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        log = workdir / "honcho.log"
        output = log.open("wb")
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, "PATH": path},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_all_answer(process, ports, log)
            return time.monotonic() - started
        finally:
            stop_process_group(process)
            output.close()


def measure_startup(runs: int = DEFAULT_RUNS) -> StartupFigures:
    fixed = all(port_is_free(port) for port in FIXED_PORTS.values())
    ports = dict(FIXED_PORTS) if fixed else {name: free_port() for name in FIXED_PORTS}
    # One tenant data directory for all runs, as `.devtenant/` is for a person: the first
    # start makes the signing keys, later ones read them.
    with tempfile.TemporaryDirectory(prefix="bench-tenant-") as tenant_data:
        seconds = [time_one_start(ports, Path(tenant_data)) for _ in range(runs)]
    return StartupFigures(seconds, fixed)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    figures = measure_startup(parser.parse_args(argv).runs)
    where = "the Procfile's ports" if figures.fixed_ports else "free ports (3000/3001/4000 busy)"
    runs = ", ".join(f"{s:.2f}" for s in figures.seconds)
    print(f"honcho start until all three answer, on {where}: median {figures.median:.2f} s")
    print(f"runs: {runs} s")


if __name__ == "__main__":
    main()
