"""The session's token manager: the server-side twin of auth0-spa-js `getTokenSilently()`.

Token sets live in the server session, one per audience and scope.  A cached access token is
used while it stays valid for `TOKEN_MIN_TTL` more seconds; after that the refresh token buys
a new one at the token endpoint (for another audience too: Auth0's multi-resource refresh
tokens), and a rotated refresh token replaces the old one.  Nothing here reaches the browser.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

import httpx
from jose import jwt
from jose.exceptions import JOSEError

from app.config import Settings
from app.dpop import DpopKey
from app.errors import RefreshRejected, TokenUnavailable, WrongAudience
from app.refresh_once import RefreshCoordinator, SharedSession
from app.session_store import Change, SessionRecord

log = logging.getLogger("app.session_tokens")

TOKEN_MIN_TTL = 60  # seconds a cached access token must still be valid to be used
TOKENS_KEY = "tokens"  # session key: {token_key: token set}
REFRESH_KEY = "refresh_token"
MAX_LOGGED_DESCRIPTION = 200  # characters of a tenant's error_description kept in a log line

TokenSet = dict[str, Any]  # access_token, token_type, expires_at, scope, audience
Session = MutableMapping[str, Any]


def token_audiences(access_token: str) -> list[str] | None:
    """The `aud` of a JWT access token, or None for an opaque one.

    Unverified on purpose: it came straight from the token endpoint, and the API it is for
    verifies it; this only catches a token meant for another API before it is sent.
    """
    try:
        claims = jwt.get_unverified_claims(access_token)
    except JOSEError:
        return None
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [item for item in aud if isinstance(item, str)] if isinstance(aud, list) else []


def check_audience(access_token: str, audience: str) -> None:
    """Raise WrongAudience unless a JWT access token is for `audience`."""
    got = token_audiences(access_token)
    if audience and got is not None and audience not in got:
        raise WrongAudience(audience, got)


def token_key(audience: str, scope: str | None) -> str:
    return f"{audience} {' '.join(sorted(set((scope or '').split())))}".strip()


def store_token_set(session: Session, token: Mapping[str, Any], audience: str) -> None:
    """Keep an access token (from login or a refresh) and the rotated refresh token."""
    expires_at = token.get("expires_at") or time.time() + float(token.get("expires_in", 0))
    token_set: TokenSet = {
        "access_token": token["access_token"],
        "token_type": str(token.get("token_type") or "Bearer"),
        "expires_at": float(expires_at),
        "scope": str(token.get("scope", "")),
        "audience": audience,
    }
    tokens = dict(session.get(TOKENS_KEY) or {})
    tokens[token_key(audience, token_set["scope"])] = token_set
    session[TOKENS_KEY] = tokens
    if token.get("refresh_token"):
        session[REFRESH_KEY] = token["refresh_token"]


def clear_tokens(session: Session) -> None:
    session.pop(TOKENS_KEY, None)
    session.pop(REFRESH_KEY, None)


def _basic_auth(client_id: str, client_secret: str) -> str:
    # RFC 6749 2.3.1: form-urlencode both parts before base64.
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def with_client_auth(
    settings: Settings, metadata: Mapping[str, Any], form: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of a call to the tenant as this client (token or revocation).

    client_secret_basic when discovery offers it (or says nothing), else client_secret_post.
    """
    headers = {"Accept": "application/json"}
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" in methods:
        headers["Authorization"] = _basic_auth(
            settings.auth0_client_id, settings.auth0_client_secret
        )
        return form, headers
    secret = {"client_id": settings.auth0_client_id, "client_secret": settings.auth0_client_secret}
    return form | secret, headers


def _scopes(scope: str | None) -> set[str]:
    return set((scope or "").split())


def find_token_set(
    session: Mapping[str, Any],
    audience: str,
    scope: str | None,
    usable: Callable[[TokenSet], bool] = lambda _: True,
) -> TokenSet | None:
    """A `usable` token set of `session` for `audience` granting every scope of `scope`."""
    wanted = _scopes(scope)
    for token_set in (session.get(TOKENS_KEY) or {}).values():
        if (
            token_set.get("audience") == audience
            and wanted <= _scopes(token_set["scope"])
            and usable(token_set)
        ):
            return dict(token_set)
    return None


def _newer(latest: TokenSet, seen: TokenSet | None) -> bool:
    """True when `latest` may be used instead of refreshing: it is fresh, or unexpired and
    not the very token this request found too old (someone refreshed since)."""
    now = time.time()
    if latest["expires_at"] - now > TOKEN_MIN_TTL:
        return True
    changed = seen is None or latest["access_token"] != seen["access_token"]
    return changed and float(latest["expires_at"]) > now


def _with_token(
    record: SessionRecord, token: Mapping[str, Any], audience: str, scope: str | None
) -> SessionRecord:
    updated = dict(record)
    store_token_set(updated, {"scope": scope or "", **token}, audience)
    return updated


def _check_audience_logged(token: Mapping[str, Any], audience: str) -> None:
    """check_audience, with the reason logged when the tenant answered another audience."""
    try:
        check_audience(str(token["access_token"]), audience)
    except WrongAudience as exc:
        log.warning(
            "refused a token for %s: it is for %s (on Auth0: is the audience in the "
            "application's refresh_token.policies? The Management API cannot be)",
            audience,
            ", ".join(exc.got) or "no audience",
        )
        raise


def _cleared(record: SessionRecord) -> SessionRecord:
    updated = dict(record)
    clear_tokens(updated)
    return updated


class SessionTokens:
    """`TokenSource` for one request's session (made by `app.deps.get_token_source`)."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        http: httpx.AsyncClient,
        metadata: Callable[[], Awaitable[dict[str, Any]]],
        refreshes: RefreshCoordinator,
        dpop: DpopKey | None = None,
        shared: SharedSession | None = None,
    ) -> None:
        self._shared = shared  # None: refreshes are merged within this process only
        self._session = session
        self._dpop = dpop
        self._settings = settings
        self._http = http
        self._metadata = metadata
        self._refreshes = refreshes

    def cached(self, audience: str, scope: str | None) -> TokenSet | None:
        """A stored token set for `audience` granting every scope of `scope`, if any."""
        return find_token_set(self._session, audience, scope, self._usable)

    def _usable(self, token_set: TokenSet) -> bool:
        """False for a DPoP token bound to another key (the app restarted without
        AUTH0_DPOP_KEY): the API would refuse it, so it is refreshed under today's key."""
        if token_set.get("token_type", "Bearer").lower() != "dpop":
            return True
        return self._dpop is not None and self._dpop.binds(str(token_set["access_token"]))

    async def get_access_token(self, audience: str | None = None, scope: str | None = None) -> str:
        audience = audience or self._settings.auth0_audience
        token_set = self.cached(audience, scope)
        if token_set and token_set["expires_at"] - time.time() > TOKEN_MIN_TTL:
            return str(token_set["access_token"])
        if not self._session.get("user"):
            raise TokenUnavailable("login_required", "No user is logged in.")
        refresh_token = self._session.get(REFRESH_KEY)
        if not refresh_token:
            raise TokenUnavailable("missing_refresh_token", "The session has no refresh token.")
        if self._shared is not None:
            return await self._refresh_shared(
                self._shared, refresh_token, audience, scope, token_set
            )
        try:
            token = await self._refreshes.run(
                refresh_token,
                token_key(audience, scope),
                lambda: self._refresh(refresh_token, audience, scope),
            )
        except RefreshRejected:
            clear_tokens(self._session)
            raise
        if token.get("refresh_token"):  # kept even if the token is refused: the old one is spent
            self._session[REFRESH_KEY] = token["refresh_token"]
        _check_audience_logged(token, audience)
        store_token_set(self._session, {"scope": scope or "", **token}, audience)
        return str(token["access_token"])

    async def _refresh_shared(
        self,
        shared: SharedSession,
        refresh_token: str,
        audience: str,
        scope: str | None,
        seen: TokenSet | None,
    ) -> str:
        """Refresh once across processes (app/refresh_once.py); adopt what is stored then."""
        rejected = False
        wrong: WrongAudience | None = None

        async def decide(record: SessionRecord) -> Change | None:
            nonlocal rejected, wrong
            latest = find_token_set(record, audience, scope, self._usable)
            if latest is not None and _newer(latest, seen):
                return None  # refreshed by another request or process meanwhile
            stored_refresh_token = record.get(REFRESH_KEY)
            if not stored_refresh_token:
                raise TokenUnavailable("missing_refresh_token", "The session has no refresh token.")
            try:
                token = await self._refresh(stored_refresh_token, audience, scope)
            except RefreshRejected:
                rejected = True
                return _cleared
            try:
                _check_audience_logged(token, audience)
            except WrongAudience as exc:
                wrong = exc  # the rotated refresh token is kept: the old one is spent
                return lambda latest: {**latest, REFRESH_KEY: token.get("refresh_token")}
            return lambda latest_record: _with_token(latest_record, token, audience, scope)

        record = await self._refreshes.run(
            refresh_token, token_key(audience, scope), lambda: shared.update(decide)
        )
        shared.adopt(record, TOKENS_KEY, REFRESH_KEY)
        if wrong is not None:
            raise wrong
        token_set = find_token_set(record, audience, scope, self._usable)
        if rejected or token_set is None:
            raise RefreshRejected()
        return str(token_set["access_token"])

    async def _refresh(
        self, refresh_token: str, audience: str, scope: str | None
    ) -> dict[str, Any]:
        try:
            metadata = await self._metadata()
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenUnavailable("token_endpoint_unavailable", "The tenant is down.") from exc
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if audience:
            form["audience"] = audience
        if scope:
            form["scope"] = scope
        form, headers = with_client_auth(self._settings, metadata, form)
        if self._dpop is not None and audience == self._settings.auth0_audience:
            # Only the app's own API gets DPoP-bound tokens; the Management API stays Bearer.
            headers["DPoP"] = self._dpop.proof("POST", str(metadata["token_endpoint"]))
        try:
            response = await self._http.post(metadata["token_endpoint"], data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise TokenUnavailable("token_endpoint_unavailable", "The tenant is down.") from exc
        return _token_response(response)


def _token_response(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise TokenUnavailable("token_endpoint_unavailable", "The tenant had an error.")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TokenUnavailable("token_endpoint_unavailable", "The tenant answered nonsense.")
    if response.status_code == 200 and isinstance(body.get("access_token"), str):
        return body
    error = str(body.get("error") or "login_required")
    # The tenant's error and description name the cause and hold no secret: log them.
    description = " ".join(str(body.get("error_description") or "").split())
    description = description[:MAX_LOGGED_DESCRIPTION]
    log.warning("token refresh failed: %d %s: %s", response.status_code, error[:64], description)
    if error == "invalid_grant":
        raise RefreshRejected()
    # Only the code travels on: descriptions from the tenant are not shown to users.
    raise TokenUnavailable(error if error.isidentifier() else "login_required")
