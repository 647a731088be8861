"""AUTH0_DPOP=true end to end: the app's tokens for the API are DPoP-bound, a copy taken
out of the session store is refused without the app's key, the Management API stays
Bearer, and the key's life across restarts is what app/dpop.py says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt

from app.config import MANAGEMENT_API_SCOPE
from app.dpop import DpopKey
from app.errors import InvalidDpopKey
from app.interceptor import AllowListAuth, parse_allowed_list
from app.main import create_app
from app.session_store import create_session_store
from app.session_tokens import TOKENS_KEY
from app.token_source import token_extensions
from testing.dpop import DpopKey as ThiefKey
from testing.dpop import ath, b64url
from testing.live_stack import LiveStack, running_live_stack
from testing.login import AUDIENCE
from testing.redis_server import RedisServer
from testing.servers import LiveServer
from testing.sessions import age_access_tokens, session_id, session_record

DPOP = {"auth0_dpop": True}


async def record_of(system: LiveStack, browser: httpx.AsyncClient) -> dict[str, Any]:
    """The browser's session record; a Redis store is read through a client of this test's
    own event loop (the app's client belongs to the server's loop)."""
    settings = system.app.app.state.settings
    if not settings.session_store_url.startswith("redis"):
        return await session_record(system, browser)
    store = create_session_store(settings)
    try:
        record = await store.load(session_id(browser))
    finally:
        await store.aclose()
    assert record is not None
    return dict(record)


async def api_token_set(system: LiveStack, browser: httpx.AsyncClient) -> dict[str, Any]:
    tokens = (await record_of(system, browser))[TOKENS_KEY]
    token_set: dict[str, Any] = next(t for t in tokens.values() if t["audience"] == AUDIENCE)
    return token_set


async def ping(browser: httpx.AsyncClient) -> None:
    answer = await browser.get("/api/external")
    assert answer.status_code == 200, answer.text
    assert "successfully validated" in answer.json()["msg"]


async def test_tokens_are_bound_to_the_apps_key_and_useless_when_copied(tmp_path: Path) -> None:
    with running_live_stack(tmp_path, app=DPOP) as system:
        key: DpopKey = system.app.app.state.dpop
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            await ping(browser)
            token_set = await api_token_set(system, browser)
        stolen = token_set["access_token"]
        assert token_set["token_type"] == "DPoP"
        assert jwt.get_unverified_claims(stolen)["cnf"] == {"jkt": key.jkt}

        url = f"{system.api.url}/api/external"
        thief = ThiefKey.generate()
        async with httpx.AsyncClient() as outsider:
            as_bearer = await outsider.get(url, headers={"Authorization": f"Bearer {stolen}"})
            no_proof = await outsider.get(url, headers={"Authorization": f"DPoP {stolen}"})
            own_proof = await outsider.get(
                url,
                headers={
                    "Authorization": f"DPoP {stolen}",
                    "DPoP": thief.proof("GET", url, stolen),
                },
            )
    assert (as_bearer.status_code, as_bearer.json()["error"]) == (401, "invalid_token")
    assert no_proof.status_code == 400
    assert (own_proof.status_code, own_proof.json()["error"]) == (401, "invalid_token")


async def test_refreshed_tokens_stay_bound_and_the_management_api_stays_bearer(
    tmp_path: Path,
) -> None:
    with running_live_stack(tmp_path, app=DPOP, api={"dpop_mode": "required"}) as system:
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            first = await session_record(system, browser)
            await age_access_tokens(system, browser)
            await ping(browser)  # refreshed, with a proof, under DPoP required
            refreshed = await api_token_set(system, browser)
            assert (await browser.get("/profile")).status_code == 200
            tokens = (await session_record(system, browser))[TOKENS_KEY].values()
    assert refreshed["expires_at"] > first[TOKENS_KEY][refreshed_key(first)]["expires_at"]
    assert refreshed["token_type"] == "DPoP"
    management = [t for t in tokens if t["scope"] and MANAGEMENT_API_SCOPE in t["scope"]]
    assert management
    assert management[0]["token_type"] == "Bearer"
    assert "cnf" not in jwt.get_unverified_claims(management[0]["access_token"])


async def test_a_browsers_own_dpop_header_never_reaches_the_api(tmp_path: Path) -> None:
    """Without AUTH0_DPOP the app sends Bearer: a forwarded DPoP header would make the API
    answer 400 (a proof with the Bearer scheme), so the proxy drops it."""
    with running_live_stack(tmp_path) as system:
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            answer = await browser.get("/api/external", headers={"DPoP": "a.b.c"})
    assert answer.status_code == 200, answer.text


def refreshed_key(record: dict[str, Any]) -> str:
    return next(str(key) for key, t in record[TOKENS_KEY].items() if t["audience"] == AUDIENCE)


def restart_app(system: LiveStack, **overrides: Any) -> None:
    """A new app process on the same port and session store: it makes its key anew."""
    settings = system.app.app.state.settings.model_copy(update=overrides)
    port = int(system.app.url.rsplit(":", 1)[1])
    system.app.stop()
    system.app = LiveServer(create_app(settings), port=port).start()


@pytest.mark.parametrize("configured", [False, True], ids=["generated-key", "AUTH0_DPOP_KEY"])
async def test_a_restart_keeps_the_key_only_when_configured(
    tmp_path: Path, redis_server: RedisServer, configured: bool
) -> None:
    key = DpopKey.generate_jwk() if configured else ""
    app = {**DPOP, "session_store_url": redis_server.url, "auth0_dpop_key": key}
    with running_live_stack(tmp_path, app=app) as system:
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            await ping(browser)
            before = await api_token_set(system, browser)
            restart_app(system)
            await ping(browser)  # the session survived in Redis; the call works either way
            after = await api_token_set(system, browser)
        system.app.stop()
    # With AUTH0_DPOP_KEY the stored token is still good; without it, it was refreshed
    # under the new key.
    assert (after["access_token"] == before["access_token"]) is configured


@pytest.mark.parametrize(
    "value",
    ["not json", '{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"}', "PUBLIC", '{"kty": "RSA"}'],
)
def test_a_bad_key_stops_start_up_with_one_sentence(value: str) -> None:
    if value == "PUBLIC":
        value = DpopKey.generate_jwk(private=False)
    with pytest.raises(InvalidDpopKey, match=r"^AUTH0_DPOP_KEY must be a private EC P-256 JWK$"):
        DpopKey.from_jwk(value)


def test_proofs_carry_the_public_key_only() -> None:
    key = DpopKey.generate()
    header = jwt.get_unverified_header(key.proof("GET", "http://api.test/x?q=1", "token"))
    claims = jwt.get_unverified_claims(key.proof("GET", "http://api.test/x?q=1", "token"))
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}
    assert claims["htu"] == "http://api.test/x"
    assert claims["htm"] == "GET"
    assert claims["ath"]


class OneToken:
    """A TokenSource that always answers `token`."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_access_token(self, audience: str | None = None, scope: str | None = None) -> str:
        return self.token


def fake_jwt(claims: dict[str, Any]) -> str:
    return f"{b64url(b'{}')}.{b64url(json.dumps(claims).encode())}.c2ln"


@pytest.mark.parametrize("bound", [True, False], ids=["bound", "unbound"])
async def test_the_interceptor_sends_a_proof_with_bound_tokens_only(bound: bool) -> None:
    key = DpopKey.generate()
    token = fake_jwt({"cnf": {"jkt": key.jkt if bound else "another-key"}})
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    auth = AllowListAuth(parse_allowed_list(["https://api.test/api/*"]), dpop=key)
    transport = httpx.MockTransport(record)
    async with httpx.AsyncClient(auth=auth, transport=transport) as client:
        extensions = token_extensions(OneToken(token))
        await client.post("https://api.test/api/x?q=1", extensions=extensions)
    headers = sent[0].headers
    if not bound:
        assert headers["authorization"] == f"Bearer {token}"
        assert "dpop" not in headers
        return
    assert headers["authorization"] == f"DPoP {token}"
    claims = jwt.get_unverified_claims(headers["dpop"])
    assert (claims["htm"], claims["htu"]) == ("POST", "https://api.test/api/x")
    assert claims["ath"] == ath(token)
