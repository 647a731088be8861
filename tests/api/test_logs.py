"""The API process's logging (api/logs.py): the entry point still writes every line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_point_writes_every_access_line(tmp_path: Path) -> None:
    """`api.main:app` as uvicorn imports it: each line reaches stderr, in the full format."""
    script = (
        "import asyncio, httpx, api.main\n"
        "async def main():\n"
        "    transport = httpx.ASGITransport(app=api.main.app)\n"
        "    async with httpx.AsyncClient(transport=transport, base_url='http://t') as c:\n"
        "        for _ in range(3):\n"
        "            assert (await c.get('/api/public')).status_code == 200\n"
        "asyncio.run(main())\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AUTH0_ISSUER_BASE_URL": "http://127.0.0.1:9/",
        "AUTH0_AUDIENCE": "https://quickstarts/api",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    access = [line for line in result.stderr.splitlines() if "api.access" in line]
    assert len(access) == 3
    assert all(line.startswith('INFO api.access: "GET /api/public" 200') for line in access)
