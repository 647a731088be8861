"""One user's whole visit through tenant, API and web app, checking that no secret leaks."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import SESSION_COOKIE
from testing.live_stack import SESSION_SECRET, LiveStack, csrf_from, running_live_stack
from testing.sessions import session_store

JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def assert_only_id_token_hint(location: str, stack: LiveStack, id_token: str) -> None:
    """Logout's redirect carries the ID token, and only it, to the tenant that issued it:
    OpenID RP-initiated logout's `id_token_hint` (Okta requires it; others would ask the
    user to confirm).  Its audience is the app's client, so no API accepts it."""
    url = urlsplit(location)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{stack.issuer}oidc/logout"
    query = parse_qs(url.query)
    assert query["id_token_hint"] == [id_token]
    others = [
        value for name, values in query.items() if name != "id_token_hint" for value in values
    ]
    assert not any(JWT.search(value) for value in others)


async def session_record(stack: LiveStack, cookie: str) -> dict[str, Any]:
    sid = cookie.split(".")[0]  # the cookie is the signed id: id.timestamp.signature
    record = await session_store(stack).load(sid)
    assert record is not None
    return dict(record)


def secrets_in(record: dict[str, Any], sid: str) -> list[str]:
    found = [sid, SESSION_SECRET, "quickstart-web-dev-secret", record["refresh_token"]]
    found += [record["id_token"]] if record.get("id_token") else []
    found += [token_set["access_token"] for token_set in record["tokens"].values()]
    return found


async def test_a_whole_visit_leaks_no_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    responses: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        responses.append(response)

    with running_live_stack(tmp_path) as stack:
        async with stack.client() as client:
            client.event_hooks["response"] = [keep]
            done = await stack.login(client, return_to="/external-api")
            assert done.headers["location"] == "/external-api"
            page = await client.get("/external-api")
            assert page.status_code == 200
            pinged = await client.get("/api/external")
            assert pinged.json() == {"msg": "Your access token was successfully validated!"}
            profile = await client.get("/profile")
            assert 'id="metadata"' in profile.text
            saved = await client.post(
                "/profile", data={"csrf_token": csrf_from(profile), "theme": "light"}
            )
            reloaded = await client.get(saved.headers["location"])
            assert '<option value="light" selected>' in reloaded.text

            cookie = client.cookies.get(SESSION_COOKIE, domain="127.0.0.1")
            assert cookie
            record = await session_record(stack, cookie)
            secrets = secrets_in(record, cookie.split(".")[0])
            app_cookies = {c.name for c in client.cookies.jar}
            for value in client.cookies.values():
                assert not JWT.search(value)
                assert all(secret not in value for secret in secrets[1:])
            logged_out = await client.post("/logout", data={"csrf_token": csrf_from(reloaded)})
            assert logged_out.status_code == 303
            assert await session_store(stack).load(cookie.split(".")[0]) is None
            after = await client.get("/")
            assert 'href="/external-api"' not in after.text

    assert app_cookies <= {SESSION_COOKIE, "devtenant_session", "devtenant_browser"}
    app_pages = [r for r in responses if r.url.port == stack.app.port]
    assert len(app_pages) >= 8
    for response in app_pages:
        text = response.text + "".join(
            value
            for name, value in response.headers.items()
            if name != "set-cookie" and not (name == "location" and response.url.path == "/logout")
        )
        if response.url.path == "/logout":
            assert_only_id_token_hint(response.headers["location"], stack, record["id_token"])
        assert not JWT.search(text), response.url
        for secret in secrets:
            assert secret not in text, response.url
    app_lines = [r.getMessage() for r in caplog.records if r.name.startswith("app")]
    assert any("GET /callback 303" in line for line in app_lines)
    for line in app_lines:
        assert "code=" not in line
        assert not JWT.search(line)
        for secret in secrets:
            assert secret not in line
