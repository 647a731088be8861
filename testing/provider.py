"""An OpenID provider that is standard but not Auth0, for the interoperability tests.

Built on `testing.issuer.TestIssuer` (its keys, discovery and JWKS), it adds the code flow
with PKCE, ID tokens, userinfo and RP-initiated logout, at paths of its own (`/oauth2/...`)
and with none of Auth0's dialect: no `/v2/logout`, no Management API, no refresh tokens.
Its issuer is spelled without a trailing slash by default, as Keycloak's, Okta's and Azure
AD's are.  The sign-in page has one button: the tests are about the relying party.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jose import JWTError, jwt

from testing.issuer import DEFAULT_AUDIENCE, TOKEN_LIFETIME, TestIssuer
from testing.servers import LiveServer, StartStop

CLIENT_ID = "interop-web"
CLIENT_SECRET = "interop-web-secret"  # noqa: S105 - a test client's published secret
USER = {
    "sub": "interop|pat",
    "name": "Pat Example",
    "email": "pat@example.org",
    "email_verified": True,
}
PREFIX = "/oauth2"


@dataclass
class AuthorizationRequest:
    """What /authorize was asked, kept until the code is redeemed."""

    redirect_uri: str
    state: str
    nonce: str
    code_challenge: str
    scope: str


class TestProvider(StartStop):
    """The provider on a free loopback port once started (`with provider:` too).

    `logouts` records the query of each end-session request; `id_token_issuer`, when
    set, is the `iss` put in ID tokens instead of the discovered issuer (to test the
    relying party's exact comparison).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        redirect_uris: list[str],
        logout_uris: list[str],
        *,
        audience: str = DEFAULT_AUDIENCE,
        trailing_slash: bool = False,
    ) -> None:
        self.issuer = TestIssuer(audience=audience)
        self.redirect_uris = redirect_uris
        self.logout_uris = logout_uris
        self.trailing_slash = trailing_slash
        self.id_token_issuer: str | None = None
        self.logouts: list[dict[str, str]] = []
        self._pending: dict[str, AuthorizationRequest] = {}
        self._codes: dict[str, AuthorizationRequest] = {}
        self._add_routes(self.issuer.app)
        self._server = LiveServer(self.issuer.app)

    @property
    def url(self) -> str:
        """The issuer exactly as discovery names it."""
        return self.issuer.url

    def start(self) -> TestProvider:
        self._server.start()
        self.issuer.serve_at(self._server.url, trailing_slash=self.trailing_slash)
        base = f"{self._server.url}{PREFIX}"
        self.issuer.metadata = {
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "end_session_endpoint": f"{base}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "profile", "email"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
        return self

    def stop(self) -> None:
        self._server.stop()

    # --- endpoints ----------------------------------------------------------------------

    def _add_routes(self, app: FastAPI) -> None:
        app.add_api_route(f"{PREFIX}/authorize", self._authorize, methods=["GET"])
        app.add_api_route(f"{PREFIX}/authorize", self._approve, methods=["POST"])
        app.add_api_route(f"{PREFIX}/token", self._token, methods=["POST"])
        app.add_api_route(f"{PREFIX}/userinfo", self._userinfo, methods=["GET"])
        app.add_api_route(f"{PREFIX}/logout", self._logout, methods=["GET"])

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or redirect_uri not in self.redirect_uris:
            return HTMLResponse("<p>Unknown client or redirect_uri.</p>", status_code=400)
        scope = query.get("scope", "")
        if (
            query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or "openid" not in scope.split()
        ):
            state = {"state": query["state"]} if "state" in query else {}
            params = urlencode({"error": "invalid_request", **state})
            return RedirectResponse(f"{redirect_uri}?{params}", status_code=302)
        request_id = secrets.token_urlsafe(16)
        self._pending[request_id] = AuthorizationRequest(
            redirect_uri=redirect_uri,
            state=query.get("state", ""),
            nonce=query.get("nonce", ""),
            code_challenge=query["code_challenge"],
            scope=scope,
        )
        return HTMLResponse(
            "<!doctype html><title>Interop provider</title><h1>Interop provider</h1>"
            f'<form method="post" action="{PREFIX}/authorize">'
            f'<input type="hidden" name="request" value="{html.escape(request_id)}">'
            f'<button id="approve" type="submit">Sign in as {USER["name"]}</button></form>'
        )

    async def _approve(self, request: Request) -> Response:
        form = await request.form()
        pending = self._pending.pop(str(form.get("request", "")), None)
        if pending is None:
            return HTMLResponse("<p>Unknown or used sign-in request.</p>", status_code=400)
        code = secrets.token_urlsafe(24)
        self._codes[code] = pending
        params = urlencode({"code": code, "state": pending.state})
        return RedirectResponse(f"{pending.redirect_uri}?{params}", status_code=303)

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        fields = {name: str(value) for name, value in form.items()}
        pending = self._codes.pop(fields.get("code", ""), None)  # a code is used once
        if not _client_authenticated(request, fields):
            return _token_error("invalid_client", 401)
        if (
            fields.get("grant_type") != "authorization_code"
            or pending is None
            or fields.get("redirect_uri") != pending.redirect_uri
            or _s256(fields.get("code_verifier", "")) != pending.code_challenge
        ):
            return _token_error("invalid_grant", 400)
        body = {
            "access_token": self.issuer.token(sub=USER["sub"], scope=pending.scope, azp=CLIENT_ID),
            "id_token": self._id_token(pending.nonce),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "scope": pending.scope,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            **USER,
            "iss": self.id_token_issuer or self.url,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "nonce": nonce,
        }
        return self.issuer.sign(claims)

    async def _userinfo(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            jwt.decode(token, self.issuer.keys[0].public_jwk, audience=self.issuer.audience)
        except JWTError:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(USER)

    async def _logout(self, request: Request) -> Response:
        query = dict(request.query_params)
        hint = query.get("id_token_hint", "")
        try:
            claims = jwt.decode(
                hint,
                self.issuer.keys[0].public_jwk,
                audience=CLIENT_ID,
                issuer=self.url,
                options={"verify_exp": False},  # an expired ID token still names its user
            )
        except JWTError:
            return HTMLResponse("<p>Invalid id_token_hint.</p>", status_code=400)
        target = query.get("post_logout_redirect_uri")
        if query.get("client_id", CLIENT_ID) != CLIENT_ID or claims["aud"] != CLIENT_ID:
            return HTMLResponse("<p>Unknown client.</p>", status_code=400)
        self.logouts.append(query)
        if target is None:
            return HTMLResponse("<p>You are signed out.</p>")
        if target not in self.logout_uris:
            return HTMLResponse("<p>post_logout_redirect_uri is not allowed.</p>", status_code=400)
        state = {"state": query["state"]} if "state" in query else {}
        separator = f"?{urlencode(state)}" if state else ""
        return RedirectResponse(f"{target}{separator}", status_code=302)


def _client_authenticated(request: Request, fields: dict[str, str]) -> bool:
    """client_secret_basic or client_secret_post, as discovery says."""
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Basic "):
        decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
        client_id, _, secret = decoded.partition(":")
    else:
        client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
    return secrets.compare_digest(f"{client_id}:{secret}", f"{CLIENT_ID}:{CLIENT_SECRET}")


def _token_error(error: str, status_code: int) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status_code)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
