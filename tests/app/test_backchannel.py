"""Back-channel logout end to end: the dev tenant tells the app a session ended, and the
app logs out every browser of it; bad logout tokens are refused and delete nothing.

Both stores: memory, and Redis against a real redis-server.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from devtenant.config import Settings as TenantSettings
from devtenant.config import default_registry
from devtenant.keys import KeyRing
from testing.live_stack import LiveStack, csrf_from, running_live_stack
from testing.login import ALICE, BOB
from testing.redis_server import RedisServer

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
TENANT_COOKIE = "devtenant_session"
ADMIN = ("quickstart-admin", "quickstart-admin-dev-secret")
CLIENT_ID = "quickstart-web"


@pytest.fixture(params=["memory", "redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveStack]:
    overrides = {}
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        overrides["session_store_url"] = server.url
    with running_live_stack(tmp_path / "tenant", app=overrides) as running:
        yield running


@pytest.fixture
async def browsers(stack: LiveStack) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with AsyncExitStack() as exits:
        yield [await exits.enter_async_context(stack.client()) for _ in range(4)]


async def logged_in(browser: httpx.AsyncClient) -> bool:
    """The app still knows the browser's user: the proxy gets a token for the API."""
    answer = await browser.get("/api/external")
    if answer.status_code == 401:
        assert answer.json()["error"] == "login_required"
        return False
    assert answer.status_code == 200, answer.text
    return True


async def test_logging_out_of_the_tenant_logs_out_every_browser_of_that_session(
    stack: LiveStack, browsers: list[httpx.AsyncClient]
) -> None:
    first, second, other_session, bob = browsers
    await stack.login(first)
    # A second browser joins the same tenant session (single sign-on): its own app session.
    second.cookies.set(TENANT_COOKIE, first.cookies.get(TENANT_COOKIE) or "")
    await stack.login(second)
    await stack.login(other_session)  # Alice again, on a tenant session of its own
    await stack.login(bob, BOB)
    assert all([await logged_in(b) for b in browsers])

    home = await first.get("/")
    left = await first.post("/logout", data={"csrf_token": csrf_from(home)})
    back = await first.get(left.headers["location"])  # the tenant ends its session
    assert back.status_code == 302

    assert not await logged_in(second)  # told by the tenant, server to server
    profile = await second.get("/profile")
    assert profile.headers["location"].startswith("/login")
    assert await logged_in(other_session)  # nothing else was deleted
    assert await logged_in(bob)


def alice_user_id() -> str:
    user = default_registry(TenantSettings(_env_file=None)).user_by_email(ALICE[0])
    assert user is not None
    return user.user_id


async def test_an_administrator_ending_a_users_sessions_logs_out_all_their_browsers(
    stack: LiveStack, browsers: list[httpx.AsyncClient]
) -> None:
    alice_1, alice_2, bob, _ = browsers
    for browser, user in ((alice_1, ALICE), (alice_2, ALICE), (bob, BOB)):
        await stack.login(browser, user)
    form = {"grant_type": "client_credentials", "audience": f"{stack.issuer}api/v2/"}
    token = (await bob.post(f"{stack.issuer}oauth/token", data=form, auth=ADMIN)).json()
    ended = await bob.delete(
        f"{stack.issuer}api/v2/users/{alice_user_id()}/sessions",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert ended.status_code == 204
    assert not await logged_in(alice_1)
    assert not await logged_in(alice_2)
    assert await logged_in(bob)


# --- refused logout tokens --------------------------------------------------------------


def claims_for(stack: LiveStack, **changes: Any) -> dict[str, Any]:
    """Valid logout-token claims for Alice (every session of hers), with `changes`."""
    now = int(time.time())
    claims = {
        "iss": stack.issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "events": {LOGOUT_EVENT: {}},
        "sub": alice_user_id(),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def tenant_signed(stack: LiveStack, claims: dict[str, Any], typ: str = "logout+jwt") -> str:
    """Signed with the tenant's own current key (tests may read its data folder)."""
    return KeyRing(stack_data_dir(stack)).sign(claims, typ=typ)


def stack_data_dir(stack: LiveStack) -> Path:
    return Path(stack.gate.app.state.tenant.settings.devtenant_data_dir)  # type: ignore[attr-defined]


def forged(stack: LiveStack, claims: dict[str, Any]) -> str:
    """Signed with a key of our own under the tenant's kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    kid = KeyRing(stack_data_dir(stack)).current_kid
    return jwt.encode(
        claims, pem.decode(), algorithm="RS256", headers={"kid": kid, "typ": "logout+jwt"}
    )


def unsigned(claims: dict[str, Any]) -> str:
    """alg none: no signature at all."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'logout+jwt'})}.{part(claims)}."


BAD_TOKENS: dict[str, Callable[[LiveStack], str]] = {
    "forged": lambda s: forged(s, claims_for(s)),
    "unsigned": lambda s: unsigned(claims_for(s)),
    # alg confusion: HMAC keyed with something public or shared, not the tenant's RSA key
    "hmac with the client secret": lambda s: jwt.encode(
        claims_for(s), "quickstart-web-dev-secret", algorithm="HS256"
    ),
    "wrong audience": lambda s: tenant_signed(s, claims_for(s, aud="another-client")),
    "other issuer": lambda s: tenant_signed(s, claims_for(s, iss="https://evil.example/")),
    "nonce": lambda s: tenant_signed(s, claims_for(s, nonce="n-0S6_WzA2Mj")),
    "no events": lambda s: tenant_signed(s, claims_for(s, events=None)),
    "another event": lambda s: tenant_signed(s, claims_for(s, events={"urn:x": {}})),
    "neither sid nor sub": lambda s: tenant_signed(s, claims_for(s, sub=None)),
    "no jti": lambda s: tenant_signed(s, claims_for(s, jti=None)),
    "expired": lambda s: tenant_signed(s, claims_for(s, exp=int(time.time()) - 600)),
    "issued long ago": lambda s: tenant_signed(s, claims_for(s, iat=int(time.time()) - 3600)),
    "issued in the future": lambda s: tenant_signed(s, claims_for(s, iat=int(time.time()) + 3600)),
    "an access token": lambda s: tenant_signed(s, claims_for(s), typ="at+jwt"),
    "garbage": lambda s: "not.a.jwt",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_logout_tokens_are_refused_and_delete_nothing(
    stack: LiveStack, browsers: list[httpx.AsyncClient], case: str
) -> None:
    alice = browsers[0]
    await stack.login(alice)
    token = BAD_TOKENS[case](stack)
    async with httpx.AsyncClient(base_url=stack.app.url) as tenant_side:
        answer = await tenant_side.post("/backchannel-logout", data={"logout_token": token})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert token not in answer.text
    assert await logged_in(alice)


async def test_a_replayed_logout_token_is_refused(
    stack: LiveStack, browsers: list[httpx.AsyncClient]
) -> None:
    alice, second = browsers[:2]
    await stack.login(alice)
    token = tenant_signed(stack, claims_for(stack))
    async with httpx.AsyncClient(base_url=stack.app.url) as tenant_side:
        first = await tenant_side.post("/backchannel-logout", data={"logout_token": token})
        assert first.status_code == 200
        assert not await logged_in(alice)
        await stack.login(second)  # Alice logs in again; the old token must not end it
        again = await tenant_side.post("/backchannel-logout", data={"logout_token": token})
    assert again.status_code == 400
    assert "already used" in again.json()["error_description"]
    assert await logged_in(second)


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"logout_token": "x"}', {"Content-Type": "application/json"}, 400),
        (b"", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
        (
            b"logout_token=a&logout_token=b",
            {"Content-Type": "application/x-www-form-urlencoded"},
            400,
        ),
        (b"logout_token=%ff%fe", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
        (
            b"logout_token=" + b"a" * 100_000,
            {"Content-Type": "application/x-www-form-urlencoded"},
            413,
        ),
    ],
)
async def test_malformed_requests_are_refused(
    stack: LiveStack, content: bytes, headers: dict[str, str], status: int
) -> None:
    async with httpx.AsyncClient(base_url=stack.app.url) as tenant_side:
        answer = await tenant_side.post("/backchannel-logout", content=content, headers=headers)
    assert answer.status_code == status
    assert answer.json()["error"] == "invalid_request"
