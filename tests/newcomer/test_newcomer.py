"""A newcomer's first run, timed: clone, the README's run command as written, a real browser
logs in and clicks Ping API.  Reports the time from clone to the validated message.

It uses the README's fixed ports (3000, 3001, 4000), so it refuses to run, failing with a
clear message, when one of them is busy.  Run it alone: `uv run pytest -m newcomer -s`.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from testing.processes import stop_process_group
from tests.conftest import require
from tests.e2e.test_browser import CHROMIUM_ARGS, nav_link

pytestmark = pytest.mark.newcomer

REPO_ROOT = Path(__file__).resolve().parents[2]
PORTS = (3000, 3001, 4000)
HOME = "http://localhost:3000"
ALICE = ("alice@example.com", "alice-demo-password")
VALIDATED = "Your access token was successfully validated!"
READY_TIMEOUT = 180.0  # seconds for `uv` to install from its cache and the servers to start
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL for the whole process group
BROWSER_TIMEOUT = 30_000  # milliseconds for each browser step
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_run_command(readme: Path) -> str:
    """The first command of the README's first fenced block, its comment removed."""
    block = FENCE.search(readme.read_text(encoding="utf-8"))
    assert block, "README.md has no fenced command block"
    line = next(line for line in block.group(1).splitlines() if line.strip())
    return line.split("#", 1)[0].strip()


def busy_ports() -> list[int]:
    busy = []
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def wait_for_home(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the README's command exited ({process.returncode}):\n{log.read_text()}")
        with suppress(httpx.TransportError):
            if httpx.get(HOME, timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"{HOME} did not answer within {READY_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


def executable(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed"
    return path


@pytest.fixture
def running_readme_command(tmp_path: Path) -> Iterator[tuple[str, float]]:
    """A fresh clone running the README's command, until home answers; stopped afterwards.

    Yields the command and the moment the clone started.
    """
    busy = busy_ports()
    if busy:
        pytest.fail(f"ports {busy} are busy: the newcomer run needs 3000, 3001 and 4000 free")
    started = time.monotonic()
    clone = tmp_path / "clone"
    git = executable("git")
    subprocess.run([git, "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    command = readme_run_command(clone / "README.md")
    log = tmp_path / "dev.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [executable("bash"), "-c", command],
            cwd=clone,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: honcho and the servers stop together
        )
        try:
            wait_for_home(process, log)
            yield command, started
        finally:
            stop_process_group(process, STOP_TIMEOUT)


async def test_clone_run_log_in_and_ping(
    running_readme_command: tuple[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    chromium = require("chromium", "the newcomer run uses a real browser")
    command, started = running_readme_command
    await log_in_and_ping(chromium)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\nnewcomer: clone to '{VALIDATED}' in {elapsed:.1f} s ({command})")


async def log_in_and_ping(chromium: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(BROWSER_TIMEOUT)
            await page.goto(HOME)
            await page.locator("#login").click()
            await page.locator('input[name="username"]').fill(ALICE[0])
            await page.locator('input[name="password"]').fill(ALICE[1])
            await page.get_by_role("button", name="Continue").click()
            await nav_link(page).click()
            await page.locator("#ping").click()
            await expect(page.locator("#api-result")).to_contain_text(VALIDATED)
        finally:
            await browser.close()
