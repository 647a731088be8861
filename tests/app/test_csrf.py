"""CSRF synchronizer tokens over real HTTP, with the server-side session underneath."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Form, Request

from app.csrf import CSRF_HEADER, CsrfProtected, csrf_token
from app.exception_handlers import register_exception_handlers
from app.memory_store import MemorySessionStore
from app.session_middleware import ServerSessionMiddleware
from app.session_state import rotate_session
from testing.servers import LiveServer


def csrf_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(
        ServerSessionMiddleware, store=MemorySessionStore(100), secret="test-csrf-secret"
    )
    register_exception_handlers(app)

    @app.get("/form")
    async def form(request: Request) -> dict[str, str]:
        return {"token": csrf_token(request)}

    @app.post("/submit")
    async def submit(_: CsrfProtected, name: Annotated[str, Form()]) -> dict[str, str]:
        return {"name": name}

    @app.post("/api/action")
    async def action(_: CsrfProtected) -> dict[str, str]:
        return {"done": "yes"}

    @app.get("/login")
    async def login(request: Request) -> dict[str, str]:
        request.session["user"] = "alice"
        rotate_session(request)
        return {}

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(csrf_app()) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def token(client: httpx.Client) -> str:
    value: str = client.get("/form").json()["token"]
    return value


def test_token_is_stable_within_a_session(client: httpx.Client) -> None:
    first = token(client)
    assert len(first) >= 43
    assert token(client) == first
    with httpx.Client(base_url=str(client.base_url)) as other:
        assert token(other) != first


def test_right_token_in_the_form_passes(client: httpx.Client) -> None:
    response = client.post("/submit", data={"csrf_token": token(client), "name": "Alice"})
    assert response.status_code == 200
    assert response.json() == {"name": "Alice"}  # the route still reads its form fields


def test_right_token_in_the_header_passes(client: httpx.Client) -> None:
    response = client.post("/api/action", headers={CSRF_HEADER: token(client)})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"name": "Alice"}, id="missing"),
        pytest.param({"name": "Alice", "csrf_token": ""}, id="empty"),
        pytest.param({"name": "Alice", "csrf_token": "wrong"}, id="wrong"),
        pytest.param({"name": "Alice", "csrf_token": "wr\u00f6ng"}, id="non-ascii"),
    ],
)
def test_missing_or_wrong_token_is_refused(client: httpx.Client, data: dict[str, str]) -> None:
    real = token(client)
    response = client.post("/submit", data=data)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert real not in response.text


def test_refusal_is_json_for_json_clients(client: httpx.Client) -> None:
    token(client)
    response = client.post(
        "/api/action", headers={CSRF_HEADER: "wrong", "accept": "application/json"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


def test_another_sessions_token_is_refused(client: httpx.Client) -> None:
    token(client)
    with httpx.Client(base_url=str(client.base_url)) as other:
        foreign = token(other)
    response = client.post("/submit", data={"csrf_token": foreign, "name": "Alice"})
    assert response.status_code == 403


def test_without_a_session_every_unsafe_request_is_refused(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/submit", data={"csrf_token": "x", "name": "Alice"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": "http://evil.example"}, id="cross-origin"),
        pytest.param({"origin": "null"}, id="opaque-origin"),
        pytest.param({"sec-fetch-site": "cross-site"}, id="fetch-cross-site"),
        pytest.param({"sec-fetch-site": "same-site"}, id="fetch-same-site"),
    ],
)
def test_cross_site_requests_are_refused_even_with_the_token(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    response = client.post("/api/action", headers={CSRF_HEADER: token(client), **headers})
    assert response.status_code == 403


def test_same_origin_browser_headers_pass(client: httpx.Client, server: LiveServer) -> None:
    headers = {CSRF_HEADER: token(client), "origin": server.url, "sec-fetch-site": "same-origin"}
    assert client.post("/api/action", headers=headers).status_code == 200


def test_login_rotation_replaces_the_token(client: httpx.Client) -> None:
    before = token(client)
    client.get("/login")
    response = client.post("/api/action", headers={CSRF_HEADER: before})
    assert response.status_code == 403
    after = token(client)
    assert after != before
    assert client.post("/api/action", headers={CSRF_HEADER: after}).status_code == 200
