"""The issuer's signing keys: OpenID discovery, then the JWKS, both cached.

Rules (the same budget as express-oauth2-jwt-bearer's):
- discovery and the key set are cached up to `max_age` (10 minutes), discovery less when
  its Cache-Control says so;
- a token whose `kid` is unknown triggers at most one refetch per `cooldown` (30 s), so a
  flood of random kids can never cause more fetches than that;
- concurrent fetches are merged into one: every waiter gets its result;
- after a failed fetch nobody retries for FAILURE_BACKOFF seconds; meanwhile requests
  get `IssuerUnavailable` (503 with Retry-After) instead of hammering the issuer.

Discovery is fetched from the configured issuer URL and accepted when the `issuer` it
names is the configured one up to a trailing slash (Auth0 writes `https://t.auth0.com/`,
Keycloak, Okta and Azure AD write theirs without the slash).  The discovered value is
then the one tokens' `iss` must equal exactly, as express-oauth2-jwt-bearer does.  The
reference takes whatever issuer discovery names; OpenID Connect Discovery 1.0 section 4.3
requires it to match, so a document naming another issuer is refused (503) instead.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
from jose import jwk
from jose.backends.base import Key

from api.errors import InvalidToken, IssuerUnavailable

logger = logging.getLogger("api.jwks")

FAILURE_BACKOFF = 5.0  # seconds without fetching after a failed fetch
MAX_KEYS = 50  # a JWKS larger than this is refused: nobody publishes that many keys
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)
# Which key types may verify which algorithms: a JWK must match the token's alg.
_KTY_FOR_ALG_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class _FetchFailed(Exception):
    """Raised inside this module when discovery or the JWKS cannot be fetched or parsed."""


def cache_lifetime(response: httpx.Response, ceiling: float) -> float:
    """Seconds `response` may be cached: its max-age, capped by `ceiling`."""
    match = _MAX_AGE_RE.search(response.headers.get("cache-control", ""))
    return min(float(match.group(1)), ceiling) if match else ceiling


class JwksCache:
    """Fetches and caches the signing keys of one issuer; `counts` says how often it fetched."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        issuer: str,
        *,
        max_age: float,
        cooldown: float,
        failure_backoff: float = FAILURE_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._issuer = issuer
        self._max_age = max_age
        self._cooldown = cooldown
        self._failure_backoff = failure_backoff
        self._clock = clock
        self._lock = asyncio.Lock()
        self._jwks_uri: str | None = None
        self._discovered_issuer: str | None = None
        self._discovery_expires = 0.0
        self._keys: dict[str, dict[str, Any]] = {}
        self._constructed: dict[tuple[str, str], Key] = {}
        self._keys_fetched_at: float | None = None
        self._failed_at: float | None = None
        self.generation = 0  # bumped whenever the key set changes
        self.fetch_count = 0

    @property
    def issuer(self) -> str:
        """The issuer discovery named: tokens' `iss` must equal it exactly.

        Read it after `key_for` returned (keys are only ever had through discovery).
        """
        if self._discovered_issuer is None:
            raise IssuerUnavailable()
        return self._discovered_issuer

    async def key_for(self, kid: str | None, alg: str) -> Key:
        """The verification key for a token's `kid` and `alg`, fetching keys when needed."""
        if self._keys_expired():
            await self._refresh(reason="expired")
        jwk_dict = self._find(kid, alg)
        if jwk_dict is None and self._may_refetch_for_unknown_kid():
            await self._refresh(reason="unknown kid")
            jwk_dict = self._find(kid, alg)
        if jwk_dict is None:
            raise InvalidToken("No matching signing key")
        return self._construct(jwk_dict, alg)

    def _keys_expired(self) -> bool:
        fetched = self._keys_fetched_at
        return fetched is None or self._clock() - fetched >= self._max_age

    def _in_failure_backoff(self) -> bool:
        failed = self._failed_at
        return failed is not None and self._clock() - failed < self._failure_backoff

    def _may_refetch_for_unknown_kid(self) -> bool:
        fetched = self._keys_fetched_at
        return fetched is None or self._clock() - fetched >= self._cooldown

    def _find(self, kid: str | None, alg: str) -> dict[str, Any] | None:
        if kid is not None:
            candidate = self._keys.get(kid)
            return candidate if candidate is not None and _usable(candidate, alg) else None
        # No kid: like jose's remote key sets, use the key only when exactly one fits.
        usable = [key for key in self._keys.values() if _usable(key, alg)]
        return usable[0] if len(usable) == 1 else None

    def _construct(self, jwk_dict: dict[str, Any], alg: str) -> Key:
        cache_key = (str(jwk_dict.get("kid")), alg)
        key = self._constructed.get(cache_key)
        if key is None:
            try:
                key = jwk.construct(jwk_dict, alg)
            except Exception as exc:  # a malformed JWK in the issuer's set
                raise InvalidToken("No matching signing key") from exc
            self._constructed[cache_key] = key
        return key

    async def _refresh(self, reason: str) -> None:
        started = self._clock()
        async with self._lock:
            # Merged: if another request fetched while this one waited, use its result.
            if self._keys_fetched_at is not None and self._keys_fetched_at >= started:
                return
            if self._in_failure_backoff():
                if self._keys_expired() or not self._keys:
                    raise IssuerUnavailable()
                return
            try:
                await self._fetch_keys()
            except _FetchFailed as exc:
                self._failed_at = self._clock()
                logger.warning("cannot fetch signing keys (%s): %s", reason, exc)
                if self._keys_expired() or not self._keys:
                    raise IssuerUnavailable() from exc
                return
            self._failed_at = None

    async def _fetch_keys(self) -> None:
        jwks_uri = await self._discover()
        body = await self._get_json(jwks_uri)
        keys = body.get("keys")
        if not isinstance(keys, list) or len(keys) > MAX_KEYS:
            raise _FetchFailed("the JWKS has no valid 'keys' list")
        fresh = {
            key["kid"]: key
            for key in keys
            if isinstance(key, dict) and isinstance(key.get("kid"), str)
        }
        anonymous = [key for key in keys if isinstance(key, dict) and "kid" not in key]
        for index, key in enumerate(anonymous):
            fresh.setdefault(f"\0anonymous-{index}", key)  # reachable only by tokens without kid
        if fresh != self._keys:
            self._keys, self._constructed = fresh, {}
            self.generation += 1
        self._keys_fetched_at = self._clock()

    async def _discover(self) -> str:
        if self._jwks_uri is not None and self._clock() < self._discovery_expires:
            return self._jwks_uri
        url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
        response = await self._get(url)
        body = _json_object(response)
        issuer = body.get("issuer")
        if not isinstance(issuer, str) or not same_issuer(issuer, self._issuer):
            raise _FetchFailed("discovery names a different issuer")
        jwks_uri = body.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise _FetchFailed("discovery has no jwks_uri")
        self._jwks_uri, self._discovered_issuer = jwks_uri, issuer
        self._discovery_expires = self._clock() + cache_lifetime(response, self._max_age)
        return jwks_uri

    async def _get_json(self, url: str) -> dict[str, Any]:
        return _json_object(await self._get(url))

    async def _get(self, url: str) -> httpx.Response:
        self.fetch_count += 1
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _FetchFailed(f"{type(exc).__name__} from {url}") from exc
        if response.status_code != 200:
            raise _FetchFailed(f"HTTP {response.status_code} from {url}")
        return response


def same_issuer(discovered: str, configured: str) -> bool:
    """Whether two issuer URLs name the same issuer: equal up to one trailing slash."""
    return discovered.removesuffix("/") == configured.removesuffix("/")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise _FetchFailed(f"invalid JSON from {response.url}") from exc
    if not isinstance(body, dict):
        raise _FetchFailed(f"expected a JSON object from {response.url}")
    return body


def _usable(key: dict[str, Any], alg: str) -> bool:
    """Whether a JWK may verify a token signed with `alg` (RFC 7517 `kty`, `use`, `alg`)."""
    if key.get("kty") != _KTY_FOR_ALG_PREFIX.get(alg[:2]):
        return False
    if key.get("use", "sig") != "sig":
        return False
    return bool(key.get("alg", alg) == alg)
