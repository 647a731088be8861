"""`python -m scripts.ready --pid PID [process ...]`: one banner once everything answers.

`./scripts/dev` starts this beside honcho.  It waits until every process honcho runs (all of
the Procfile's, or the ones named) answers HTTP on its Procfile port, then prints the URL to
open and, when the dev tenant runs, its demo users.  It gives up silently when honcho (PID)
ends first, e.g. because one of the servers could not start: honcho has said why.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
POLL_INTERVAL = 0.25  # seconds between rounds of checks
CHECK_TIMEOUT = 2.0  # seconds one check may take
# What each Procfile process answers once it is up (any status below 500 counts).
HEALTH_PATHS = {"web": "/", "api": "/api/public", "tenant": "/.well-known/openid-configuration"}
PORT = re.compile(r"--port\s+(\d+)")


def procfile_urls(procfile: str, names: Iterable[str] = ()) -> dict[str, str]:
    """{process: health URL} for the Procfile's processes (only `names`, when given)."""
    wanted = set(names)
    urls = {}
    for line in procfile.splitlines():
        name, _, command = line.partition(":")
        port = PORT.search(command)
        if port and name in HEALTH_PATHS and (not wanted or name in wanted):
            urls[name] = f"http://127.0.0.1:{port.group(1)}{HEALTH_PATHS[name]}"
    return urls


def answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code < 500
    except httpx.HTTPError:
        return False


def wait_until_ready(urls: Mapping[str, str], alive: Callable[[], bool]) -> bool:
    """True once every URL answers; False as soon as `alive()` says to stop waiting."""
    waiting = dict(urls)
    with httpx.Client(timeout=CHECK_TIMEOUT) as client:
        while alive():
            waiting = {name: url for name, url in waiting.items() if not answers(client, url)}
            if not waiting:
                return True
            time.sleep(POLL_INTERVAL)
    return False


def banner(app_url: str, demo_users: Iterable[tuple[str, str]]) -> str:
    lines = [f"Ready: open {app_url}"]
    users = [f"{email} / {password}" for email, password in demo_users]
    if users:
        lines.append("Demo users (dev tenant): " + users[0])
        lines += [" " * len("Demo users (dev tenant): ") + user for user in users[1:]]
    lines.append("Stop with Ctrl+C.")
    rule = "=" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule])


def app_url() -> str:
    """The web app's APP_BASE_URL (from .env), or its default when the settings are bad."""
    from app.config import Settings

    try:
        return Settings().app_base_url
    except ValueError:
        return "http://localhost:3000"


def demo_users() -> list[tuple[str, str]]:
    from devtenant.config import SettingsError, get_settings, load_registry

    try:
        return [(user.email, user.password) for user in load_registry(get_settings()).users]
    except (SettingsError, ValueError):
        return []


def pid_alive(pid: int) -> Callable[[], bool]:
    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    return alive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ready", description=__doc__)
    parser.add_argument("--pid", type=int, required=True, help="honcho's process id")
    parser.add_argument("processes", nargs="*", help="the Procfile processes honcho runs")
    args = parser.parse_args(argv)
    urls = procfile_urls(PROCFILE.read_text(), args.processes)
    try:
        if not wait_until_ready(urls, pid_alive(args.pid)):
            return 1
    except KeyboardInterrupt:  # Ctrl+C reaches the whole process group
        return 1
    users = demo_users() if "tenant" in urls else []
    print(banner(app_url(), users), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
