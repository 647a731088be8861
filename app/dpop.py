"""The app's DPoP key (RFC 9449): it binds the API's access tokens to this server.

With `AUTH0_DPOP=true` the app asks for DPoP-bound access tokens for its API (at code
exchange and at every refresh) and sends each proxied API request with a fresh proof
signed by this key.  A token copied out of the session store is then useless: the API
refuses it without a proof only this key can sign.

One key per process, not per session, on purpose: a per-session key would have to live in
the session store next to the tokens it protects, and whoever could read one could read
both.  This key lives only in the process's memory, or in `AUTH0_DPOP_KEY` (a private EC
P-256 JWK: `python -m app.dpop` makes one) when it must survive restarts and be shared by
several app processes.  Without `AUTH0_DPOP_KEY` each start makes a new key: access tokens
stored under the old one (in Redis) are then refreshed under the new one, which works
because the app is a confidential client, whose refresh tokens Auth0 does not bind.

The Management API stays Bearer: the app sends proofs to the token endpoint only for its
own API's audience.  The key never leaves the server: only its public half goes in proofs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry

from app.config import Settings
from app.errors import InvalidDpopKey

ALGORITHM = "ES256"
CURVE = "P-256"
PROOF_TYPE = "dpop+jwt"


class DpopKey:
    """The process's DPoP key pair; `proof()` signs one proof per request."""

    def __init__(self, key: ECKey) -> None:
        self._key = key
        public = key.as_dict(private=False)
        self._header = {"typ": PROOF_TYPE, "alg": ALGORITHM, "jwk": public}
        self.jkt = key.thumbprint()  # RFC 7638: what the tenant puts in tokens' cnf.jkt

    @classmethod
    def generate(cls) -> DpopKey:
        return cls(ECKey.generate_key(CURVE, private=True))

    @staticmethod
    def generate_jwk(private: bool = True) -> str:
        """A new key as JWK JSON, for AUTH0_DPOP_KEY (keep it secret, like SESSION_SECRET)."""
        return json.dumps(ECKey.generate_key(CURVE, private=True).as_dict(private=private))

    @classmethod
    def for_settings(cls, settings: Settings) -> DpopKey | None:
        """The key AUTH0_DPOP asks for: AUTH0_DPOP_KEY's, or a new one; None when off."""
        if not settings.auth0_dpop:
            return None
        return cls.from_jwk(settings.auth0_dpop_key) if settings.auth0_dpop_key else cls.generate()

    @classmethod
    def from_jwk(cls, value: str) -> DpopKey:
        """The key in AUTH0_DPOP_KEY; InvalidDpopKey (one sentence) when it is not one."""
        try:
            key = JWKRegistry.import_key(json.loads(value))
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidDpopKey("AUTH0_DPOP_KEY must be a private EC P-256 JWK") from exc
        if not isinstance(key, ECKey) or not key.is_private or key.curve_name != CURVE:
            raise InvalidDpopKey("AUTH0_DPOP_KEY must be a private EC P-256 JWK")
        return cls(key)

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A proof for one request: `htu` is `url` without query and fragment, and `ath`
        binds it to `access_token` when one is sent (RFC 9449 §4.2)."""
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = _b64url(hashlib.sha256(access_token.encode()).digest())
        payload = json.dumps(claims, separators=(",", ":"))
        return jws.serialize_compact(self._header, payload, self._key, algorithms=[ALGORITHM])

    def binds(self, access_token: str) -> bool:
        """Whether `access_token` is bound to this key (its `cnf.jkt`).

        Read without verifying the token: it is our own token from our own session, and
        this only chooses the scheme the API expects (`DPoP` or `Bearer`); the API verifies.
        """
        try:
            payload = access_token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            return False  # opaque or encrypted: not one we can tell, so Bearer
        cnf = claims.get("cnf") if isinstance(claims, dict) else None
        return isinstance(cnf, dict) and cnf.get("jkt") == self.jkt


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


if __name__ == "__main__":
    print(DpopKey.generate_jwk())
