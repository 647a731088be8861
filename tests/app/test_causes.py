"""Failures that name their cause: the tenant's own error on the error page, the issuer,
Management API refusals in the log, and tokens for the wrong audience refused."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from jose import jwt
from starlette.requests import Request

from app.auth import keep_granted_token
from app.errors import AuthFlowError, WrongAudience
from app.pages import management_refusal
from app.session_tokens import check_audience, token_audiences
from testing.live_stack import csrf_from, running_live_stack
from testing.login import AUDIENCE


async def test_a_wrong_audience_shows_the_tenants_words_and_the_issuer(tmp_path: Path) -> None:
    with running_live_stack(tmp_path, app={"auth0_audience": "https://no-such-api"}) as stack:
        async with stack.client() as client:
            page = await stack.login(client)
    assert page.status_code == 400
    assert "Access was denied" in page.text
    assert 'id="tenant-error"' in page.text
    assert "<code>access_denied</code>: Service not found" in page.text
    assert f'id="error-issuer">{stack.issuer}<' in page.text


async def test_a_wrong_client_secret_is_named_in_page_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.errors")
    with running_live_stack(tmp_path, app={"auth0_client_secret": "not-the-secret"}) as stack:
        async with stack.client() as client:
            page = await stack.login(client)
    assert "The login could not be completed." in page.text
    assert "<code>invalid_client</code>" in page.text
    assert "not-the-secret" not in page.text
    logged = [r.getMessage() for r in caplog.records if r.name == "app.errors"]
    assert any("login_failed (the tenant said invalid_client" in line for line in logged)
    assert not any("not-the-secret" in line for line in logged)


async def test_a_forged_error_link_is_not_repeated(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as stack:
        async with stack.client() as client:
            started = await client.get("/login")  # a real login is pending in this browser
            assert started.status_code == 302
            forged = {"error": "access_denied", "error_description": "Call +1 555 0100 now"}
            no_state = await client.get("/callback", params=forged)
            other_state = await client.get("/callback", params={**forged, "state": "guessed"})
    for page in (no_state, other_state):
        assert "Access was denied" in page.text
        assert "555 0100" not in page.text  # only the tenant's words are repeated
        assert 'id="tenant-error"' not in page.text


async def test_outside_mrrt_policies_the_profile_names_the_audience_it_got(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.session_tokens")
    with running_live_stack(tmp_path, mrrt_audiences=[AUDIENCE]) as stack:
        async with stack.client() as client:
            await stack.login(client)
            first = await client.get("/profile")
            # The rotated refresh token was kept although its access token was refused:
            # a second refresh is not a reuse, so the session lives on.
            second = await client.get("/profile")
            saved = await client.post(
                "/profile", data={"csrf_token": csrf_from(second), "theme": "dark"}
            )
            after = await client.get(saved.headers["location"])
            api = await client.get("/api/external")
    management = f"{stack.issuer}api/v2/"
    for page in (first, second):
        assert page.status_code == 200
        assert "User metadata is unavailable" in page.text
        assert f"The tenant issued a token for {AUDIENCE}, " in page.text
        assert f"not for {management}." in page.text
    assert "The theme could not be saved." in after.text
    assert 'href="/login/management?returnTo=/profile"' in after.text  # the way out
    assert api.status_code == 200
    refused = [r.getMessage() for r in caplog.records if "refused a token" in r.getMessage()]
    assert refused
    assert f"for {management}: it is for {AUDIENCE}" in refused[0]


async def test_granting_management_access_makes_the_profile_work_outside_mrrt(
    tmp_path: Path,
) -> None:
    with running_live_stack(tmp_path, mrrt_audiences=[AUDIENCE]) as stack:
        async with stack.client() as client:
            await stack.login(client)
            first = await client.get("/profile")
            assert 'id="grant-metadata"' in first.text
            started = await client.get("/login/management", params={"returnTo": "/profile"})
            assert started.status_code == 302
            authorize = httpx.URL(started.headers["location"])
            assert authorize.params["audience"] == f"{stack.issuer}api/v2/"
            # The tenant's session answers at once, as Auth0's does (but for consent).
            back = await client.get(str(authorize))
            assert back.status_code == 302
            done = await client.get(back.headers["location"])
            assert done.status_code == 303
            assert done.headers["location"] == "/profile"
            profile = await client.get("/profile")
            saved = await client.post(
                "/profile", data={"csrf_token": csrf_from(profile), "theme": "dark"}
            )
            after = await client.get(saved.headers["location"])
            api = await client.get("/api/external")  # the app's own token is untouched
    assert 'id="metadata"' in profile.text
    assert "User metadata is unavailable" not in profile.text
    assert "Theme saved." in after.text
    assert api.status_code == 200


def test_a_granted_token_is_kept_only_for_the_same_user() -> None:
    session = {"user": {"sub": "auth0|alice"}}
    request = Request({"type": "http", "session": session})
    step_up = {"audience": "https://t/api/v2/", "sub": "auth0|alice"}
    token = {"access_token": "opaque", "expires_in": 60}
    with pytest.raises(AuthFlowError) as other:
        keep_granted_token(request, token, {"sub": "auth0|bob"}, step_up)
    assert other.value.code == "other_user"
    assert "tokens" not in session
    keep_granted_token(request, {**token, "refresh_token": "r"}, {"sub": "auth0|alice"}, step_up)
    assert "refresh_token" not in session  # the session's own refresh token is not replaced


def test_management_api_refusals_are_logged_with_their_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="app.pages")
    request = httpx.Request("PATCH", "https://tenant.example/api/v2/users/auth0%7C1")
    body = {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "Insufficient scope, expected any of: update:current_user_metadata",
        "errorCode": "insufficient_scope",
    }
    response = httpx.Response(403, json=body, request=request)
    reason = management_refusal(response)
    assert reason == (
        "the Management API answered 403: Insufficient scope, expected any of: "
        "update:current_user_metadata"
    )
    assert "Management API PATCH of the user answered 403: Insufficient scope" in caplog.text
    assert "auth0|1" not in caplog.text
    assert "auth0%7C1" not in caplog.text
    unauthorized = httpx.Response(401, text="", request=request)
    assert management_refusal(unauthorized) == "the Management API answered 401: Unauthorized"


def test_the_audience_check_reads_jwts_and_passes_opaque_tokens() -> None:
    token = jwt.encode({"aud": ["https://a/", "https://b/"]}, "k", algorithm="HS256")
    assert token_audiences(token) == ["https://a/", "https://b/"]
    check_audience(token, "https://b/")
    with pytest.raises(WrongAudience) as refused:
        check_audience(token, "https://c/")
    assert refused.value.error == "wrong_audience"
    assert token_audiences("opaque-token") is None
    check_audience("opaque-token", "https://c/")  # nothing to check: the API decides
