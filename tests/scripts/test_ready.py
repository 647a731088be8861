"""`scripts/ready.py`: the one banner `./scripts/dev` prints once every server answers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from scripts import ready
from testing.servers import LiveServer, free_port


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"status": "ok"}

    live = LiveServer(app).start()
    yield live
    live.stop()


def test_the_procfile_names_a_health_url_for_each_server() -> None:
    urls = ready.procfile_urls(ready.PROCFILE.read_text())
    assert urls == {
        "web": "http://127.0.0.1:3000/",
        "api": "http://127.0.0.1:3001/api/public",
        "tenant": "http://127.0.0.1:4000/.well-known/openid-configuration",
    }
    # `./scripts/dev web api` (a real tenant): the banner waits for those two only.
    assert set(ready.procfile_urls(ready.PROCFILE.read_text(), ["web", "api"])) == {"web", "api"}


def test_ready_once_every_server_answers(server: LiveServer) -> None:
    urls = {"web": f"{server.url}/ok", "api": f"{server.url}/ok"}
    assert ready.wait_until_ready(urls, alive=lambda: True)


def test_no_banner_while_one_server_is_down_and_honcho_has_stopped(server: LiveServer) -> None:
    checks = []

    def alive() -> bool:  # honcho stops after a few rounds (a server could not start)
        checks.append(1)
        return len(checks) < 4

    urls = {"web": f"{server.url}/ok", "api": f"http://127.0.0.1:{free_port()}/api/public"}
    assert not ready.wait_until_ready(urls, alive)
    assert len(checks) == 4  # it kept waiting for the down server until honcho ended


def test_a_server_that_comes_up_late_is_waited_for(server: LiveServer) -> None:
    late = LiveServer(server.app)
    rounds = []

    def alive() -> bool:  # the second server starts only after a first round of checks
        rounds.append(1)
        if len(rounds) == 2:
            late.start()
        return True

    try:
        assert ready.wait_until_ready({"a": f"{server.url}/ok", "b": f"{late.url}/ok"}, alive)
    finally:
        late.stop()


def test_the_banner_names_the_url_and_the_demo_users() -> None:
    text = ready.banner("http://localhost:3000", ready.demo_users())
    assert "Ready: open http://localhost:3000" in text
    assert "alice@example.com / alice-demo-password" in text
    assert "bob@example.com / bob-demo-password" in text
    assert text.count("Ready") == 1


def test_main_prints_the_banner_once(
    server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    procfile = tmp_path / "Procfile"
    port = server.port
    procfile.write_text(f"web: uvicorn x --port {port}\napi: uvicorn y --port {port}\n")
    monkeypatch.setattr(ready, "PROCFILE", procfile)
    monkeypatch.setattr(ready, "HEALTH_PATHS", {"web": "/ok", "api": "/ok"})
    assert ready.main(["--pid", str(os.getpid())]) == 0
    out = capsys.readouterr().out
    assert out.count("Ready: open") == 1
    assert "Demo users" not in out  # no dev tenant in this Procfile, so no demo users
