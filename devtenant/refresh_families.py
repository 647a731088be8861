"""Refresh-token families, kept in `grants.json` under the data folder.

Auth0 keeps refresh tokens across its own restarts, so the tenant does too: a family (one
authorization's rotation chain) is saved after every change and loaded at start-up, with
its absolute lifetime honoured on load.  Only SHA-256 digests of refresh tokens are stored,
never a token itself, and the token -> family index is rebuilt from those digests.  Expiry
is wall-clock time (not `time.monotonic()`) because it must mean the same after a restart.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devtenant.json_files import Document, JsonStore

GRANTS_FILE = "grants.json"
FORMAT_VERSION = 1
MAX_FAMILIES = 10_000  # the oldest families are dropped beyond this


@dataclass
class RefreshFamily:
    """Every refresh token descended from one authorization (rotation chain)."""

    family_id: str
    client_id: str
    user_id: str
    scopes: list[str]
    audience: str | None
    sid: str
    auth_time: int
    nonce: str | None
    expires_at: float = 0.0  # wall-clock seconds; every token of the family dies then
    current: str = ""  # digest of the one token that may be used next
    revoked: bool = False
    jkt: str | None = None  # a public client's DPoP key: every refresh must prove it
    issued: set[str] = field(default_factory=set)  # digests of every token ever issued

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["issued"] = sorted(self.issued)
        return data

    @classmethod
    def from_json(cls, data: Any) -> RefreshFamily | None:
        """The family `data` describes, or None when it is not one (a hand-edited file)."""
        if not isinstance(data, dict):
            return None
        try:
            family = cls(**{**data, "issued": set(data.get("issued", []))})
        except TypeError:
            return None
        valid = isinstance(family.family_id, str) and isinstance(family.expires_at, int | float)
        return family if valid else None


class FamilyStore:
    """The families in memory, mirrored to disk whenever one was started, rotated or revoked."""

    def __init__(self, data_dir: Path, lifetime: int) -> None:
        self.lifetime = lifetime
        self._store = JsonStore(data_dir / GRANTS_FILE)
        self._families: dict[str, RefreshFamily] = {}  # insertion order: oldest first
        self._token_family: dict[str, str] = {}  # token digest -> family id
        self._dirty = False
        self._load(self._store.read())

    def _load(self, document: Document) -> None:
        now = time.time()
        for item in document.get("families", []):
            family = RefreshFamily.from_json(item)
            if family is not None and not family.expired(now):
                self._add(family)

    def _add(self, family: RefreshFamily) -> None:
        self._families[family.family_id] = family
        for token_digest in family.issued:
            self._token_family[token_digest] = family.family_id
        while len(self._families) > MAX_FAMILIES:
            self._drop(next(iter(self._families)))

    def _drop(self, family_id: str) -> None:
        family = self._families.pop(family_id, None)
        if family is not None:
            for token_digest in family.issued:
                self._token_family.pop(token_digest, None)

    def _prune(self) -> None:
        now = time.time()
        for family_id in [f.family_id for f in self._families.values() if f.expired(now)]:
            self._drop(family_id)

    def start(self, family: RefreshFamily) -> None:
        """Keep a new family for `lifetime` seconds from now (Auth0's absolute lifetime)."""
        family.expires_at = time.time() + self.lifetime
        self._add(family)
        self._dirty = True

    def add_token(self, family: RefreshFamily, token_digest: str) -> None:
        """Make `token_digest` the family's current token; earlier ones become reuse."""
        family.current = token_digest
        family.issued.add(token_digest)
        self._token_family[token_digest] = family.family_id
        self._dirty = True

    def get(self, family_id: str | None) -> RefreshFamily | None:
        family = self._families.get(family_id) if family_id else None
        if family is None or family.expired(time.time()):
            return None
        return family

    def of_token(self, token_digest: str) -> RefreshFamily | None:
        return self.get(self._token_family.get(token_digest))

    def revoke(self, family_id: str | None) -> None:
        family = self.get(family_id)
        if family is not None and not family.revoked:
            family.revoked = True
            self._dirty = True

    async def save(self) -> None:
        """Write the families to disk if anything changed since the last save.

        The snapshot is taken under the store's lock, so concurrent saves each write the
        latest state and the last one to finish never overwrites a newer change.
        """
        if not self._dirty:
            return
        self._dirty = False
        try:
            await self._store.replace(self._document)
        except BaseException:
            self._dirty = True  # try again with the next change
            raise

    def _document(self) -> Document:
        self._prune()
        families = [family.to_json() for family in self._families.values()]
        return {"version": FORMAT_VERSION, "families": families}
