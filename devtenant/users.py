"""The demo users: credentials, profiles, metadata edits and generated avatars.

Users come from the registry (config.py); what changes at run time (metadata edits and
`updated_at`) is kept in `users.json` under the data folder so it survives restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from devtenant.config import USER_ID_PREFIX, Registry, Settings, User
from devtenant.errors import MetadataRejected
from devtenant.json_files import Document, JsonStore

USERS_FILE = "users.json"
CONNECTION = "Username-Password-Authentication"
CREATED_AT = "2024-01-01T00:00:00.000Z"  # demo users exist "since forever"
# Auth0 caps a serialized user profile at 10 kB; user_metadata alone gets that here.
MAX_METADATA_BYTES = 10 * 1024
MAX_METADATA_DEPTH = 10  # levels of objects and arrays inside user_metadata
AVATAR_COLOURS = ["#635dff", "#1f8a70", "#d6336c", "#e67700", "#1971c2", "#5f3dc4"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def merge_metadata(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Auth0's PATCH semantics: top-level keys are merged, a key set to null is removed."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def nests_deeper_than(value: Any, limit: int) -> bool:
    """True when objects and arrays nest more than `limit` levels in `value`.

    Level by level, stopping past `limit`: no recursion, however hostile the body.
    """
    level: list[Any] = [value]
    for _ in range(limit + 1):
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            return False
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return True


def check_metadata(metadata: dict[str, Any]) -> None:
    """MetadataRejected unless `metadata` stays within the size and nesting caps."""
    if nests_deeper_than(metadata, MAX_METADATA_DEPTH):
        raise MetadataRejected(f"user_metadata nests deeper than {MAX_METADATA_DEPTH} levels.")
    size = len(json.dumps(metadata, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise MetadataRejected(f"user_metadata is larger than {MAX_METADATA_BYTES} bytes.")


def avatar_svg(user: User) -> str:
    """A small offline avatar: the user's initials on a colour derived from their id."""
    initials = "".join(part[0] for part in user.name.split()[:2] if part).upper() or "?"
    colour = AVATAR_COLOURS[int(hashlib.sha256(user.user_id.encode()).hexdigest(), 16) % 6]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<rect width="96" height="96" rx="48" fill="{colour}"/>'
        '<text x="48" y="60" font-family="sans-serif" font-size="36" fill="#fff" '
        f'text-anchor="middle">{escape(initials)}</text></svg>'
    )


class Directory:
    """Looks users up, checks passwords and applies metadata edits."""

    def __init__(self, settings: Settings, registry: Registry, data_dir: Path) -> None:
        self.settings = settings
        self.registry = registry
        self.store = JsonStore(data_dir / USERS_FILE)

    def authenticate(self, email: str, password: str) -> User | None:
        user = self.registry.user_by_email(email)
        # Compare even for unknown emails so timing does not reveal which emails exist.
        expected = user.password if user else "-unknown-user-"
        ok = hmac.compare_digest(password.encode(), expected.encode())
        return user if ok and user else None

    def user(self, user_id: str) -> User | None:
        return self.registry.user(user_id)

    def user_by_avatar(self, name: str) -> User | None:
        return self.registry.user(USER_ID_PREFIX + name)

    def picture(self, user: User) -> str:
        return user.picture or f"{self.settings.issuer}avatars/{user.user_id.split('|')[-1]}.svg"

    def _edits(self, user_id: str, data: Document | None = None) -> dict[str, Any]:
        edits: dict[str, Any] = (data if data is not None else self.store.read()).get(user_id, {})
        return edits

    def profile(self, user: User) -> dict[str, Any]:
        """The user as Auth0's Management API returns it."""
        edits = self._edits(user.user_id)
        return {
            "user_id": user.user_id,
            "email": user.email,
            "email_verified": True,
            "name": user.name,
            "nickname": user.email.split("@")[0],
            "picture": self.picture(user),
            "created_at": CREATED_AT,
            "updated_at": edits.get("updated_at", CREATED_AT),
            "identities": [
                {
                    "provider": "auth0",
                    "user_id": user.user_id.split("|")[-1],
                    "connection": CONNECTION,
                    "isSocial": False,
                }
            ],
            "user_metadata": edits.get("user_metadata", user.user_metadata),
            "app_metadata": user.app_metadata,
        }

    async def update_metadata(self, user: User, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the user's metadata, persist it, and return the new profile.

        MetadataRejected, and nothing saved, when the result would be too large or too deep.
        """

        def change(data: Document) -> None:
            edits = dict(self._edits(user.user_id, data))
            current = edits.get("user_metadata", user.user_metadata)
            merged = merge_metadata(current, changes)
            check_metadata(merged)
            edits["user_metadata"] = merged
            edits["updated_at"] = _now()
            data[user.user_id] = edits

        await self.store.update(change)
        return self.profile(user)
