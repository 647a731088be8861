"""ServerSessionMiddleware over real HTTP: a tiny FastAPI app served by uvicorn, driven by httpx."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from itsdangerous import TimestampSigner

from app.config import SESSION_COOKIE
from app.exception_handlers import register_exception_handlers
from app.memory_store import MemorySessionStore
from app.redis_store import RedisSessionStore
from app.session_middleware import SESSION_SALT, ServerSessionMiddleware
from app.session_state import rotate_session
from app.session_store import SessionStore
from testing.redis_server import RedisServer
from testing.servers import LiveServer

SECRET = "test-session-secret"
USER = {"sub": "auth0|0123456789abcdef01234567", "name": "Alice"}


def session_app(store: SessionStore, **options: Any) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(ServerSessionMiddleware, store=store, secret=SECRET, **options)
    register_exception_handlers(app)

    @app.get("/read")
    async def read(request: Request) -> dict[str, Any]:
        return dict(request.session)

    @app.post("/set")
    async def set_value(request: Request, key: str, value: str) -> dict[str, str]:
        request.session[key] = value
        return {"ok": "yes"}

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        request.session["user"] = USER
        rotate_session(request)
        return {"ok": "yes"}

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, str]:
        request.session.clear()
        return {"ok": "yes"}

    return app


def serve(store: SessionStore, **options: Any) -> Iterator[httpx.Client]:
    with (
        LiveServer(session_app(store, **options)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client


@pytest.fixture
def store() -> MemorySessionStore:
    return MemorySessionStore(100)


@pytest.fixture
def client(store: MemorySessionStore) -> Iterator[httpx.Client]:
    yield from serve(store)


def set_cookie_headers(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def flip(value: str, index: int) -> str:
    """`value` with the character at `index` changed (a fully significant base64 digit)."""
    chars = list(value)
    chars[index] = "A" if chars[index] != "A" else "B"
    return "".join(chars)


def session_id(client: httpx.Client) -> str:
    """The raw id inside the client's signed cookie."""
    return client.cookies[SESSION_COOKIE].split(".")[0]


def test_no_cookie_until_something_is_stored(
    client: httpx.Client, store: MemorySessionStore
) -> None:
    response = client.get("/read")
    assert response.json() == {}
    assert set_cookie_headers(response) == []
    assert len(store) == 0


def test_cookie_holds_only_a_signed_id_with_safe_flags(
    client: httpx.Client, store: MemorySessionStore
) -> None:
    response = client.post("/set", params={"key": "colour", "value": "teal-secret-value"})
    [header] = set_cookie_headers(response)
    assert header.startswith(f"{SESSION_COOKIE}=")
    assert "teal-secret-value" not in header
    attributes = cookie_attributes(header)
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "secure" not in attributes  # plain http here; see the secure test
    assert "SameSite=Lax" in header
    assert "Path=/" in header
    sid = session_id(client)
    assert len(sid) >= 43  # 32 random bytes, base64url
    assert TimestampSigner(SECRET, salt=SESSION_SALT).unsign(client.cookies[SESSION_COOKIE])
    assert client.get("/read").json() == {"colour": "teal-secret-value"}
    assert len(store) == 1


def test_secure_flag_when_asked(store: MemorySessionStore) -> None:
    for client in serve(store, secure=True):
        [header] = set_cookie_headers(client.post("/set", params={"key": "k", "value": "v"}))
        assert "secure" in cookie_attributes(header)


def test_unchanged_session_sends_no_new_cookie(client: httpx.Client) -> None:
    client.post("/set", params={"key": "k", "value": "v"})
    assert set_cookie_headers(client.get("/read")) == []


class CountingStore(MemorySessionStore):
    """A memory store that counts the writes it is asked for."""

    def __init__(self) -> None:
        super().__init__(100)
        self.writes: list[str] = []

    async def save(
        self, sid: str, data: dict[str, Any], ttl: int, *, pending: bool = False
    ) -> None:
        self.writes.append("save")
        await super().save(sid, data, ttl, pending=pending)

    async def modify(self, sid: str, change: Any, ttl: int | None = None) -> Any:
        self.writes.append("modify")
        return await super().modify(sid, change, ttl)

    async def delete(self, sid: str) -> None:
        self.writes.append("delete")
        await super().delete(sid)


def test_reading_an_unchanged_session_writes_nothing() -> None:
    store = CountingStore()
    for client in serve(store, idle_timeout=2, absolute_timeout=60):
        client.post("/login")
        writes = len(store.writes)
        for _ in range(3):
            response = client.get("/read")
            assert response.json() == {"user": USER}
            assert set_cookie_headers(response) == []
        assert len(store.writes) == writes  # no save, no expiry touch, no delete
        time.sleep(0.3)  # past the refresh interval (a tenth of the idle timeout)
        assert set_cookie_headers(client.get("/read")) == []
        assert store.writes[writes:] == ["modify"]  # the idle expiry, refreshed once


def test_reserved_keys_hidden_and_authlib_state_keys_kept(client: httpx.Client) -> None:
    client.post("/set", params={"key": "_state_auth0_abc", "value": "pkce"})
    assert client.get("/read").json() == {"_state_auth0_abc": "pkce"}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda value: flip(value, -10), id="sig"),
        pytest.param(lambda value: flip(value, 0), id="id"),
        pytest.param(lambda value: value.split(".")[0], id="unsigned-id"),
        pytest.param(
            lambda value: (
                TimestampSigner("other-secret", salt=SESSION_SALT)
                .sign(value.split(".")[0])
                .decode()
            ),
            id="other-key",
        ),
        pytest.param(lambda value: "%%%not-a-cookie", id="garbage"),
        pytest.param(lambda value: "\u00e9" + value, id="non-ascii"),
    ],
)
def test_tampered_cookie_gives_a_fresh_session(client: httpx.Client, forge: Any) -> None:
    client.post("/set", params={"key": "k", "value": "v"})
    forged = forge(client.cookies[SESSION_COOKIE])
    client.cookies.clear()
    cookie = f"{SESSION_COOKIE}={forged}".encode()
    response = client.get("/read", headers=[(b"cookie", cookie)])
    assert response.status_code == 200
    assert response.json() == {}
    [header] = set_cookie_headers(response)  # the useless cookie is expired
    assert "Max-Age=0" in header


def test_login_rotates_the_id_and_the_old_one_is_dead(client: httpx.Client) -> None:
    client.post("/set", params={"key": "return_to", "value": "/profile"})
    before = client.cookies[SESSION_COOKIE]
    response = client.post("/login")
    after = client.cookies[SESSION_COOKIE]
    assert len(set_cookie_headers(response)) == 1
    assert after.split(".")[0] != before.split(".")[0]
    assert client.get("/read").json() == {"return_to": "/profile", "user": USER}
    client.cookies.clear()
    stale = client.get("/read", headers={"cookie": f"{SESSION_COOKIE}={before}"})
    assert stale.json() == {}


def test_session_fixation_is_defeated(client: httpx.Client) -> None:
    # The attacker gets a session of their own and plants its cookie in the victim's browser.
    planted_response = client.post("/set", params={"key": "lang", "value": "en"})
    planted = planted_response.cookies[SESSION_COOKIE]
    client.cookies.clear()
    victim = {"cookie": f"{SESSION_COOKIE}={planted}"}
    login = client.post("/login", headers=victim)
    assert login.cookies[SESSION_COOKIE] != planted
    # The attacker's cookie does not give them the victim's logged-in session.
    client.cookies.clear()
    assert client.get("/read", headers=victim).json() == {}


def test_logout_deletes_the_record_and_expires_the_cookie(
    client: httpx.Client, store: MemorySessionStore
) -> None:
    client.post("/login")
    assert len(store) == 1
    response = client.post("/logout")
    [header] = set_cookie_headers(response)
    assert header.startswith(f"{SESSION_COOKIE}=;")
    assert "Max-Age=0" in header
    assert len(store) == 0
    assert SESSION_COOKIE not in client.cookies


def test_idle_session_expires(store: MemorySessionStore) -> None:
    for client in serve(store, idle_timeout=1, absolute_timeout=60):
        client.post("/set", params={"key": "k", "value": "v"})
        time.sleep(1.5)
        assert client.get("/read").json() == {}


def test_use_keeps_a_session_alive_past_the_idle_timeout(store: MemorySessionStore) -> None:
    for client in serve(store, idle_timeout=2, absolute_timeout=60):
        client.post("/set", params={"key": "k", "value": "v"})
        for _ in range(5):  # 3.5 s in all, each gap well under the idle timeout
            time.sleep(0.7)
            assert client.get("/read").json() == {"k": "v"}


def test_absolute_timeout_ends_even_an_active_session(store: MemorySessionStore) -> None:
    for client in serve(store, idle_timeout=60, absolute_timeout=2):
        client.post("/set", params={"key": "k", "value": "v"})
        for _ in range(5):
            time.sleep(0.6)
            body = client.get("/read").json()
        assert body == {}


def test_no_session_id_in_any_response_body(client: httpx.Client) -> None:
    bodies = [client.post("/set", params={"key": "k", "value": "v"}).text]
    sid = session_id(client)
    bodies += [client.get("/read").text, client.post("/login").text]
    sid_after_login = session_id(client)
    bodies += [client.get("/read").text, client.post("/logout").text]
    for body in bodies:
        assert sid not in body
        assert sid_after_login not in body
        assert "_created" not in body


@pytest.mark.redis
def test_redis_outage_is_a_503_page_and_sessions_come_back(redis_server: RedisServer) -> None:
    for client in serve(RedisSessionStore(redis_server.url)):
        client.post("/login")
        redis_server.stop(save=True)
        page = client.get("/read", headers={"accept": "text/html"})
        assert page.status_code == 503
        assert page.headers["retry-after"].isdigit()
        assert "text/html" in page.headers["content-type"]
        assert "unavailable" in page.text.lower()
        assert session_id(client) not in page.text
        api = client.get("/read", headers={"accept": "application/json"})
        assert api.status_code == 503
        assert api.json()["error"] == "session_store_unavailable"
        # A request that only fails when saving (no cookie yet) gets the 503 as well.
        fresh = httpx.post(f"{client.base_url}/set", params={"key": "k", "value": "v"})
        assert fresh.status_code == 503
        assert fresh.headers.get_list("set-cookie") == []
        redis_server.start()
        assert client.get("/read").json() == {"user": USER}
