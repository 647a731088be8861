"""RS256 signing keys, their rotation and the public JWKS.

Like Auth0 the tenant always publishes the *next* key before it signs with it, so a JWKS
client that cached the set already knows the key the next tokens will carry.  Rotating
promotes the next key to current, keeps the previous one published until every token it
signed has expired, and generates a new next key.  `python -m devtenant rotate-keys`
rewrites the keys file; a running server notices the change and reloads it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from jose.backends.base import Key

from devtenant.json_files import read_json, write_json

ALGORITHM = "RS256"
KEY_SIZE = 2048
PUBLIC_EXPONENT = 65537
KEYS_FILE = "keys.json"
KEY_CACHE_SIZE = 16  # parsed keys kept: current, next and a few previous
CURRENT, NEXT, PREVIOUS = "current", "next", "previous"


def keys_path(data_dir: Path) -> Path:
    return data_dir / KEYS_FILE


def _thumbprint(public: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a kid that is stable and derived from the key itself."""
    canonical = json.dumps({k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@lru_cache(maxsize=KEY_CACHE_SIZE)
def _private_key(pem: str) -> Key:
    """The parsed key: parsing a PEM costs ~25 ms, far more than signing with it."""
    return jwk.construct(pem, ALGORITHM)


@lru_cache(maxsize=KEY_CACHE_SIZE)
def _public_jwk(pem: str) -> dict[str, Any]:
    public: dict[str, Any] = _private_key(pem).public_key().to_dict()
    return public


def new_key(state: str) -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_SIZE)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"kid": _thumbprint(_public_jwk(pem)), "pem": pem, "state": state, "retire_at": None}


def ensure_keys(data_dir: Path) -> list[dict[str, Any]]:
    """The stored keys, generating a current and a next key the first time."""
    path = keys_path(data_dir)
    keys: list[dict[str, Any]] = read_json(path).get("keys", [])
    if not any(k["state"] == CURRENT for k in keys):
        keys = [new_key(CURRENT), new_key(NEXT)]
        write_json(path, {"keys": keys})
    return keys


def rotate(data_dir: Path, keep_seconds: int, now: float | None = None) -> str:
    """Sign with the next key from now on; returns its kid."""
    now = time.time() if now is None else now
    keys = ensure_keys(data_dir)
    rotated: list[dict[str, Any]] = []
    for key in keys:
        if key["state"] == CURRENT:
            rotated.append({**key, "state": PREVIOUS, "retire_at": now + keep_seconds})
        elif key["state"] == NEXT:
            rotated.append({**key, "state": CURRENT})
        elif key["retire_at"] is not None and key["retire_at"] > now:
            rotated.append(key)  # an older key whose tokens may still be alive
    if not any(k["state"] == CURRENT for k in rotated):  # a keys file without a next key
        rotated.append(new_key(CURRENT))
    rotated.append(new_key(NEXT))
    write_json(keys_path(data_dir), {"keys": rotated})
    kid: str = next(k["kid"] for k in rotated if k["state"] == CURRENT)
    return kid


class KeyRing:
    """The server's view of the keys file, reloaded whenever the file changes."""

    def __init__(self, data_dir: Path) -> None:
        self._path = keys_path(data_dir)
        self._keys = ensure_keys(data_dir)
        self._mtime = self._path.stat().st_mtime_ns

    def _refresh(self) -> None:
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return  # keep serving the keys we have; --reset happens only at start-up
        if mtime != self._mtime:
            self._keys = read_json(self._path).get("keys", self._keys)
            self._mtime = mtime

    def _current(self) -> dict[str, Any]:
        self._refresh()
        return next(k for k in self._keys if k["state"] == CURRENT)

    @property
    def current_kid(self) -> str:
        kid: str = self._current()["kid"]
        return kid

    def sign(self, claims: dict[str, Any], typ: str | None = None) -> str:
        """A JWT of `claims` signed with the current key; `typ` sets explicit typing (RFC 8725)."""
        key = self._current()
        signer = _private_key(key["pem"])
        headers = {"kid": key["kid"], **({"typ": typ} if typ else {})}
        return jwt.encode(claims, signer, algorithm=ALGORITHM, headers=headers)

    def jwks(self, now: float | None = None) -> dict[str, Any]:
        """Public keys only: current, next, and previous ones whose tokens may still be alive."""
        self._refresh()
        now = time.time() if now is None else now
        published = [k for k in self._keys if k["retire_at"] is None or k["retire_at"] > now]
        return {"keys": [self._describe(k) for k in published]}

    @staticmethod
    def _describe(key: dict[str, Any]) -> dict[str, Any]:
        public = _public_jwk(key["pem"])
        return {
            "kty": public["kty"],
            "use": "sig",
            "alg": ALGORITHM,
            "kid": key["kid"],
            "n": public["n"],
            "e": public["e"],
        }
