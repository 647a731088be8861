"""The app and the API against a standard OpenID provider that is not Auth0.

Its issuer has no trailing slash (like Keycloak's, Okta's and Azure AD's), its endpoints
live at its own paths, it publishes `end_session_endpoint` and has no Management API.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from testing.provider import CLIENT_ID
from testing.provider_stack import running_provider_stack

SPELLINGS = [
    pytest.param(False, False, id="issuer-without-slash"),
    pytest.param(False, True, id="configured-with-slash-discovered-without"),
    pytest.param(True, False, id="configured-without-slash-discovered-with"),
]


@pytest.mark.parametrize(("trailing_slash", "configured_slash"), SPELLINGS)
async def test_login_call_api_profile_and_logout(
    trailing_slash: bool, configured_slash: bool
) -> None:
    with running_provider_stack(
        trailing_slash=trailing_slash, configured_slash=configured_slash
    ) as stack:
        async with stack.client() as browser:
            back = await stack.login(browser, return_to="/external-api")
            assert back.status_code == 303, back.text
            assert back.headers["location"] == "/external-api"

            external = await browser.get("/api/external")
            scoped = await browser.get("/api/private-scoped")
            assert external.status_code == 200, external.text
            assert scoped.status_code == 200, scoped.text

            profile = await browser.get("/profile")
            assert profile.status_code == 200
            assert 'id="metadata-unavailable"' in profile.text
            assert "Pat Example" in profile.text

            page = await browser.get("/")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            logout = await browser.post("/logout", data={"csrf_token": token})
            assert logout.status_code == 303
            target = urlsplit(logout.headers["location"])
            query = parse_qs(target.query)
            endpoint = stack.provider.issuer.metadata["end_session_endpoint"]
            assert f"{target.scheme}://{target.netloc}{target.path}" == endpoint
            assert query["post_logout_redirect_uri"] == [f"{stack.app.url}/"]
            assert query["client_id"] == [CLIENT_ID]
            assert query["id_token_hint"][0].count(".") == 2

            at_provider = await browser.get(logout.headers["location"])
            assert at_provider.status_code == 302  # the provider accepted the hint
            assert at_provider.headers["location"] == f"{stack.app.url}/"
            assert len(stack.provider.logouts) == 1
            after = await browser.get("/external-api")
    assert after.status_code == 303  # logged out here too
    assert after.headers["location"].startswith("/login")


async def test_id_token_with_the_other_issuer_spelling_is_refused() -> None:
    """Authlib compares the ID token's `iss` with the discovered issuer exactly: the same
    URL with a trailing slash added is another issuer."""
    with running_provider_stack() as stack:
        stack.provider.id_token_issuer = f"{stack.provider.url}/"
        async with stack.client() as browser:
            back = await stack.login(browser)
            assert back.status_code == 400
            assert 'id="error-code">invalid_id_token<' in back.text
            assert (await browser.get("/external-api")).status_code == 303


async def test_discovery_naming_another_issuer_stops_login_and_api() -> None:
    with running_provider_stack() as stack:
        stack.provider.issuer.advertised_issuer = "https://evil.example"
        token = stack.provider.issuer.token(iss="https://evil.example")
        async with stack.client() as browser:
            login = await browser.get("/login")
            api = await browser.get(f"{stack.api.url}/api/private", headers=_bearer(token))
    assert login.status_code == 502
    assert 'id="error-code">issuer_mismatch<' in login.text
    assert "AUTH0_ISSUER_BASE_URL" in login.text
    assert api.status_code == 503  # the API will not use that discovery either


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
