"""Login transactions, tenant sessions, codes, and the rules for refresh-token rotation.

Transactions, sessions and codes are short-lived, so they stay in memory: a tenant restart
logs everyone out of the tenant and voids pending logins, as restarting a development
server should.  Refresh-token families outlive a restart, as they do at Auth0
(refresh_families.py).  Every table is bounded and entries expire, so a flood of /authorize
requests cannot exhaust memory.  Refresh tokens, codes and session cookies are kept as
SHA-256 digests, never in the clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from devtenant.refresh_families import FamilyStore, RefreshFamily

TRANSACTION_LIFETIME = 30 * 60  # seconds a login page stays usable
CODE_LIFETIME = 10 * 60  # seconds, like Auth0
SESSION_LIFETIME = 7 * 24 * 60 * 60  # seconds of tenant single sign-on
MAX_ENTRIES = 10_000  # per table; the oldest entries are dropped beyond this
SECRET_BYTES = 32

V = TypeVar("V")


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class ExpiringTable(Generic[V]):
    """A bounded mapping whose entries vanish after a lifetime."""

    def __init__(self, lifetime: float, max_entries: int = MAX_ENTRIES) -> None:
        self.lifetime = lifetime
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def put(self, key: str, value: V, lifetime: float | None = None) -> None:
        expires = time.monotonic() + (self.lifetime if lifetime is None else lifetime)
        self._items[key] = (expires, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] < time.monotonic():
            del self._items[key]
            return None
        return item[1]

    def pop(self, key: str) -> V | None:
        value = self.get(key)
        self._items.pop(key, None)
        return value

    def pop_matching(self, wanted: Callable[[V], bool]) -> list[V]:
        """Remove and return every live value `wanted` accepts."""
        now = time.monotonic()
        keys = [k for k, (expires, v) in self._items.items() if expires >= now and wanted(v)]
        return [self._items.pop(key)[1] for key in keys]


@dataclass
class AuthorizationRequest:
    """A validated /authorize request waiting for the user to log in."""

    client_id: str
    redirect_uri: str
    scopes: list[str]
    audience: str | None
    state: str | None
    nonce: str | None
    code_challenge: str | None
    screen_hint: str | None = None
    # The email of the last wrong attempt: GET /u/login shows the error once (Post/Redirect/Get).
    failed_email: str | None = None


@dataclass
class Transaction:
    """A login in progress: the request, and a digest of the browser cookie it is bound to."""

    request: AuthorizationRequest
    browser: str


@dataclass
class Session:
    """The tenant's single sign-on session (cookie `devtenant_session`)."""

    sid: str
    user_id: str
    auth_time: int
    # Clients that received a code in this session: told by back-channel logout when it ends.
    client_ids: set[str] = field(default_factory=set)


@dataclass
class Code:
    """An authorization code: what was authorised, for whom, and whether it was used."""

    request: AuthorizationRequest
    user_id: str
    sid: str
    auth_time: int
    used: bool = False
    family_id: str | None = None  # the refresh-token family issued for it, revoked on replay


class Grants:
    """The tables above, and the rules for codes and refresh-token rotation."""

    def __init__(self, data_dir: Path, refresh_lifetime: int) -> None:
        self.transactions: ExpiringTable[Transaction] = ExpiringTable(TRANSACTION_LIFETIME)
        self.sessions: ExpiringTable[Session] = ExpiringTable(SESSION_LIFETIME)
        self.codes: ExpiringTable[Code] = ExpiringTable(CODE_LIFETIME)
        self.families = FamilyStore(data_dir, refresh_lifetime)

    def start_transaction(self, request: AuthorizationRequest, browser: str) -> str:
        """A new login transaction that only the browser holding cookie `browser` may finish."""
        transaction_id = new_secret()
        self.transactions.put(transaction_id, Transaction(request, digest(browser)))
        return transaction_id

    def transaction(self, transaction_id: str, browser: str | None) -> AuthorizationRequest | None:
        """The pending request, if `browser` is the cookie the transaction was started with.

        Without this, a login form posted from another site with the attacker's own
        transaction would log the victim's browser in as the attacker (login CSRF).
        """
        transaction = self.transactions.get(transaction_id)
        if transaction is None or not browser:
            return None
        if not hmac.compare_digest(transaction.browser, digest(browser)):
            return None
        return transaction.request

    def start_session(self, user_id: str) -> tuple[str, Session]:
        """A new session and the cookie value that names it."""
        cookie = new_secret()
        session = Session(sid=new_secret()[:32], user_id=user_id, auth_time=int(time.time()))
        self.sessions.put(digest(cookie), session)
        return cookie, session

    def session(self, cookie: str | None) -> Session | None:
        return self.sessions.get(digest(cookie)) if cookie else None

    def end_session(self, cookie: str | None) -> Session | None:
        """End the session `cookie` names; the session that ended, if there was one."""
        return self.sessions.pop(digest(cookie)) if cookie else None

    def end_user_sessions(self, user_id: str) -> list[Session]:
        """End every session of `user_id` (an administrator's revocation)."""
        return self.sessions.pop_matching(lambda session: session.user_id == user_id)

    def issue_code(self, request: AuthorizationRequest, session: Session) -> str:
        session.client_ids.add(request.client_id)
        code = new_secret()
        self.codes.put(digest(code), Code(request, session.user_id, session.sid, session.auth_time))
        return code

    def code(self, code: str) -> Code | None:
        return self.codes.get(digest(code))

    def start_family(self, code: Code) -> tuple[RefreshFamily, str]:
        """A refresh token for what `code` authorised; replaying the code revokes it."""
        request = code.request
        family = RefreshFamily(
            family_id=new_secret(),
            client_id=request.client_id,
            user_id=code.user_id,
            scopes=request.scopes,
            audience=request.audience,
            sid=code.sid,
            auth_time=code.auth_time,
            nonce=request.nonce,
        )
        self.families.start(family)
        code.family_id = family.family_id
        return family, self.rotate(family)

    def rotate(self, family: RefreshFamily) -> str:
        """Issue the family's next refresh token; the previous one may never be used again."""
        token = new_secret()
        self.families.add_token(family, digest(token))
        return token

    def family_of(self, token: str) -> tuple[RefreshFamily | None, bool]:
        """The token's family and whether the token is the family's current one."""
        family = self.families.of_token(digest(token))
        return family, family is not None and family.current == digest(token)

    def revoke(self, family_id: str | None) -> None:
        self.families.revoke(family_id)

    async def save(self) -> None:
        """Persist refresh-token families changed by the request that just ran."""
        await self.families.save()
