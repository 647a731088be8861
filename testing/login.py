"""The dev tenant's demo users and sample API, and the one scripted login through the app.

`submit_login_form` is the tenant's half (its password form); `log_in` is the whole login a
browser does through the app: /login, the tenant's form, back to /callback.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx

from app.config import SESSION_COOKIE

AUDIENCE = "https://quickstarts/api"  # the sample API every stack calls
ALICE = ("alice@example.com", "alice-demo-password")
BOB = ("bob@example.com", "bob-demo-password")
LOGIN_TIMEOUT = 30.0  # seconds for one request of a scripted login
LOGIN_STATE = re.compile(r'name="state" value="([^"]+)"')


class LoginFailed(AssertionError):
    """Raised when a scripted login is answered with anything but the next expected step."""


async def submit_login_form(
    client: httpx.AsyncClient, authorize_url: str, email: str, password: str
) -> httpx.Response:
    """Log in through the tenant's form; the redirect back to the client, not followed."""
    page = await client.get(authorize_url, follow_redirects=False, timeout=LOGIN_TIMEOUT)
    if page.status_code == 302:  # the tenant session already answers silently
        return page
    if page.status_code != 200:
        raise LoginFailed(f"the login page answered {page.status_code}: {page.text}")
    match = LOGIN_STATE.search(page.text)
    if match is None:
        raise LoginFailed("the login page has no state field")
    form = {"state": match.group(1), "username": email, "password": password}
    return await client.post(
        urljoin(authorize_url, "/u/login"),
        data=form,
        follow_redirects=False,
        timeout=LOGIN_TIMEOUT,
    )


async def log_in(
    client: httpx.AsyncClient,
    app_url: str,
    user: tuple[str, str] = ALICE,
    return_to: str = "/",
) -> httpx.Response:
    """Log `user` in through the app and the tenant's form; the app's answer to /callback.

    `client` plays one browser: its jar keeps the tenant's session, so a second call with
    the same client logs in again silently (a new app session, no password form).
    """
    started = await client.get(
        f"{app_url}/login", params={"returnTo": return_to}, timeout=LOGIN_TIMEOUT
    )
    if started.status_code != 302:
        raise LoginFailed(f"/login answered {started.status_code}: {started.text}")
    back = await submit_login_form(client, started.headers["location"], *user)
    if back.status_code != 302:
        raise LoginFailed(f"the tenant answered {back.status_code}: {back.text}")
    return await client.get(back.headers["location"], timeout=LOGIN_TIMEOUT)


def session_cookie(callback: httpx.Response) -> str:
    """The app's session cookie set by a successful /callback (see `log_in`)."""
    cookie = callback.cookies.get(SESSION_COOKIE)
    if callback.status_code != 303 or not cookie:
        raise LoginFailed(f"/callback answered {callback.status_code}")
    return cookie
