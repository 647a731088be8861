"""`POST /backchannel-logout`: the tenant tells us, server to server, that a session ended.

OIDC Back-Channel Logout 1.0: the tenant POSTs a signed `logout_token`; once it checks out
(app/logout_token.py) and its `jti` was never seen, every app session logged in under its
`sid` (or, without one, its `sub`) is deleted from the store, so the user's next request,
in any browser and on any worker, is logged out.  Sessions are found through links
written at login (`link_session`), since the request carries no cookie.

No CSRF token: the caller is the tenant, not a browser, and the signed token is the proof.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import LogoutTokensDep, ProviderDep, SessionStoreDep
from app.errors import InvalidLogoutToken, IssuerMismatch, IssuerUnavailable
from app.logout_token import CLOCK_LEEWAY, MAX_TOKEN_AGE, LogoutClaims, LogoutTokenVerifier
from app.oidc import OidcProvider, provider_metadata
from app.session_store import SessionStore

router = APIRouter(tags=["auth"])

PATH = "/backchannel-logout"
MAX_BODY_BYTES = 16 * 1024  # a logout token is ~1 kB; nothing legitimate comes near this
FORM_TYPE = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store"}


def link_tags(issuer: str, sid: str | None, sub: str | None) -> dict[str, str]:
    """Store tags for a tenant session and a user: digests, so no id appears in a key."""

    def tag(kind: str, value: str) -> str:
        return hashlib.sha256(f"{issuer}\n{kind}\n{value}".encode()).hexdigest()

    tags = {}
    if sid:
        tags["sid"] = tag("sid", sid)
    if sub:
        tags["sub"] = tag("sub", sub)
    return tags


async def link_session(
    store: SessionStore, session_id: str, issuer: str, id_claims: dict[str, Any], ttl: int
) -> None:
    """At login: remember the app session under its ID token's `sid` and `sub`."""
    sid, sub = id_claims.get("sid"), id_claims.get("sub")
    tags = link_tags(issuer, sid if isinstance(sid, str) else None, str(sub or ""))
    await store.link(session_id, list(tags.values()), ttl)


async def logout_token_param(request: Request) -> str:
    """The one `logout_token` of a size-capped urlencoded body."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise InvalidLogoutToken(f"The body must be {FORM_TYPE}.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise InvalidLogoutToken("The request body is too large.", status_code=413)
    try:
        params = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=10)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidLogoutToken("The request body is malformed.") from exc
    tokens = params.get("logout_token", [])
    if len(tokens) != 1 or not tokens[0]:
        raise InvalidLogoutToken("Exactly one logout_token is required.")
    return tokens[0]


async def verified_claims(
    provider: OidcProvider, verifier: LogoutTokenVerifier, token: str
) -> LogoutClaims:
    try:
        metadata = await provider_metadata(provider, verifier.issuer)
        return await verifier.verify(token, metadata, provider.fetch_jwk_set)
    except IssuerMismatch as exc:
        raise IssuerUnavailable("The issuer's discovery names another issuer.") from exc
    except (httpx.HTTPError, RuntimeError) as exc:
        raise IssuerUnavailable("The issuer's keys cannot be fetched.") from exc


@router.post(PATH)
async def backchannel_logout(
    request: Request, provider: ProviderDep, store: SessionStoreDep, verifier: LogoutTokensDep
) -> Response:
    claims = await verified_claims(provider, verifier, await logout_token_param(request))
    # Checked last, so a token refused for another reason cannot use up its jti.
    replay_name = hashlib.sha256(f"{claims.issuer}\n{claims.jti}".encode()).hexdigest()
    if not await store.claim_once(replay_name, MAX_TOKEN_AGE + 2 * CLOCK_LEEWAY):
        raise InvalidLogoutToken("The logout token was already used (jti).")
    tags = link_tags(verifier.issuer, claims.sid, claims.sub)
    # A sid ends that tenant session's app sessions; a sub alone ends all of the user's.
    await store.delete_linked(tags["sid"] if "sid" in tags else tags["sub"])
    return Response(status_code=200, headers=NO_STORE)
