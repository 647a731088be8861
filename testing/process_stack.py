"""The whole system as real processes on free loopback ports: dev tenant, API and web app.

Used by the proxy and memory benchmarks and by the load test, which must measure each
server alone (its own process, its own RSS) rather than threads sharing one interpreter.
Every child runs from an empty temporary directory, so a developer's `.env` never leaks
in: each setting the system needs is passed in the environment.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.config import PROXY_MAX_CONCURRENT
from testing.login import AUDIENCE
from testing.processes import LOOPBACK, REPO_ROOT, ManagedProcess
from testing.servers import free_port

# Signs the cookies of a throwaway app on loopback; never a real secret.
SESSION_SECRET = "bench-session-secret-0123456789abcdef"  # noqa: S105
# One worker, no reload, no access log: how each service runs in production.
UVICORN = [sys.executable, "-m", "serving", "--log-level", "warning"]  # as the Procfile runs it
APP_TARGET = ("app.main:app",)
# Load tests and benchmarks drive the proxy with one session standing in for many users;
# the per-user cap (8 calls at once) would answer most of their calls 503.  The overall cap
# (PROXY_MAX_CONCURRENT, 64) still holds.
LOAD_APP_ENV = {"PROXY_MAX_CONCURRENT_PER_USER": str(PROXY_MAX_CONCURRENT)}


@dataclass
class ProcessStack:
    """The three running services; `url`s have no trailing slash."""

    tenant: ManagedProcess
    api: ManagedProcess
    app: ManagedProcess

    @property
    def issuer(self) -> str:
        return f"{self.tenant.url}/"


def _child_env(**values: str) -> dict[str, str]:
    # Children import our packages from the repository while running in an empty directory.
    return {"PYTHONPATH": str(REPO_ROOT), **values}


def tenant_process(port: int, data_dir: Path, app_urls: list[str]) -> ManagedProcess:
    """`python -m devtenant` with its own data directory and the app's URLs registered."""
    env = _child_env(
        DEVTENANT_ISSUER=f"http://{LOOPBACK}:{port}/",
        DEVTENANT_DATA_DIR=str(data_dir),
        DEVTENANT_APP_URLS=json.dumps(app_urls),
    )
    command = [sys.executable, "-m", "devtenant", "--host", LOOPBACK, "--port", str(port)]
    return ManagedProcess(
        "devtenant",
        command,
        port,
        env=env,
        ready_path="/.well-known/openid-configuration",
        cwd=data_dir,
    )


def api_process(port: int, issuer: str, workdir: Path) -> ManagedProcess:
    env = _child_env(AUTH0_ISSUER_BASE_URL=issuer, AUTH0_AUDIENCE=AUDIENCE)
    command = [*UVICORN, "api.main:app", "--host", LOOPBACK, "--port", str(port)]
    return ManagedProcess("api", command, port, env=env, ready_path="/api/public", cwd=workdir)


def app_process(
    port: int,
    issuer: str,
    api_url: str,
    workdir: Path,
    store_url: str = "memory://",
    target: Sequence[str] = APP_TARGET,
    extra_env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """The web app under uvicorn; `extra_env` adds settings (WEB_CONCURRENCY, ...)."""
    env = _child_env(
        AUTH0_ISSUER_BASE_URL=issuer,
        AUTH0_AUDIENCE=AUDIENCE,
        APP_BASE_URL=f"http://{LOOPBACK}:{port}",
        API_BASE_URL=api_url,
        SESSION_SECRET=SESSION_SECRET,
        SESSION_STORE_URL=store_url,
        **(extra_env or {}),
    )
    command = [*UVICORN, *target, "--host", LOOPBACK, "--port", str(port)]
    return ManagedProcess("app", command, port, env=env, ready_path="/", cwd=workdir)


@contextmanager
def running_process_stack(
    store_url: str = "memory://",
    app_target: Sequence[str] = APP_TARGET,
    app_env: Mapping[str, str] | None = None,
) -> Iterator[ProcessStack]:
    """Tenant, API and app started (in that order) and stopped again, whatever happens.

    `app_env`: more of the app's settings, e.g. LOAD_APP_ENV.
    """
    with tempfile.TemporaryDirectory(prefix="system-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        app_port = free_port()
        tenant = tenant_process(free_port(), workdir, [f"http://{LOOPBACK}:{app_port}"])
        stack.enter_context(tenant)
        issuer = f"{tenant.url}/"
        api = stack.enter_context(api_process(free_port(), issuer, workdir))
        app = stack.enter_context(
            app_process(app_port, issuer, api.url, workdir, store_url, app_target, app_env)
        )
        yield ProcessStack(tenant=tenant, api=api, app=app)


def rss_bytes(pid: int) -> int:
    """Resident set size of process `pid` (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"process {pid} has no VmRSS")


def serving_pid(process: ManagedProcess) -> int:
    """The pid of the server itself: `process` leads its group and may be a wrapper."""
    assert process.pid is not None, f"{process.name} is not running"
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    # `python -m serving` has no children; `uv run python -m serving` has one, the server.
    return int(children[0]) if children else process.pid
