"""The frontend's settings: one pydantic-settings class, read from the environment and `.env`.

With nothing set, everything points at the embedded dev tenant (`python -m devtenant`), so
a fresh clone runs with zero accounts.  Setting `AUTH0_DOMAIN` (and removing
`AUTH0_ISSUER_BASE_URL`) switches to a real Auth0 tenant.
"""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from ipaddress import ip_address
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.errors import SettingsError

DEV_TENANT_ISSUER = "http://localhost:4000/"
DEV_CLIENT_ID = "quickstart-web"
DEV_CLIENT_SECRET = "quickstart-web-dev-secret"  # noqa: S105 - published dev-tenant default
DEFAULT_AUDIENCE = "https://quickstarts/api"
DEFAULT_SCOPE = "openid profile email offline_access read:messages"
# Auth0 lists both update: and create:current_user_metadata for PATCH /api/v2/users/{id}.
MANAGEMENT_API_SCOPE = "read:current_user update:current_user_metadata create:current_user_metadata"

SESSION_IDLE_TIMEOUT = 24 * 60 * 60  # seconds without a request before a session ends
SESSION_ABSOLUTE_TIMEOUT = 7 * 24 * 60 * 60  # seconds after login when a session ends anyway
MEMORY_STORE_MAX_SESSIONS = 50_000  # the memory store evicts the least recently used beyond this
MEMORY_STORE_MAX_BYTES = 256 * 1024 * 1024  # ...and beyond this many bytes of records
# The /api/* proxy: calls relayed at once (below the API pool's connections, app/http.py),
# for one logged-in user, and for all anonymous callers together (app/proxy_limits.py).
PROXY_MAX_CONCURRENT = 64
PROXY_MAX_CONCURRENT_PER_USER = 8  # browsers open 6 connections per host
PROXY_MAX_CONCURRENT_ANONYMOUS = 16
PROXY_BODY_IDLE_TIMEOUT = 10.0  # seconds an upload may pause between two chunks
PROXY_BODY_TIMEOUT = 60.0  # seconds an upload may take in all
SESSION_COOKIE = "app_session"
MIN_SESSION_SECRET = 32  # bytes of SESSION_SECRET required on a real tenant
REFRESH_LOCK_TIMEOUT = 15.0  # seconds: beyond the token endpoint's connect + read timeouts


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback IP literals, the only hosts allowed over plain http."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    auth0_domain: str = ""
    auth0_issuer_base_url: str = ""
    auth0_client_id: str = DEV_CLIENT_ID
    auth0_client_secret: str = DEV_CLIENT_SECRET
    auth0_audience: str = DEFAULT_AUDIENCE
    auth0_scope: str = DEFAULT_SCOPE
    app_base_url: str = "http://localhost:3000"
    api_base_url: str = "http://localhost:3001"
    session_secret: str = ""
    session_store_url: str = "memory://"
    session_idle_timeout: int = Field(default=SESSION_IDLE_TIMEOUT, gt=0)
    session_absolute_timeout: int = Field(default=SESSION_ABSOLUTE_TIMEOUT, gt=0)
    session_max_memory: int = Field(default=MEMORY_STORE_MAX_SESSIONS, gt=0)
    session_max_memory_bytes: int = Field(default=MEMORY_STORE_MAX_BYTES, gt=0)
    proxy_max_concurrent: int = Field(default=PROXY_MAX_CONCURRENT, gt=0)
    proxy_max_concurrent_per_user: int = Field(default=PROXY_MAX_CONCURRENT_PER_USER, gt=0)
    proxy_max_concurrent_anonymous: int = Field(default=PROXY_MAX_CONCURRENT_ANONYMOUS, gt=0)
    proxy_body_idle_timeout: float = Field(default=PROXY_BODY_IDLE_TIMEOUT, gt=0)
    proxy_body_timeout: float = Field(default=PROXY_BODY_TIMEOUT, gt=0)
    # Worker processes: `python -m serving` (the Procfile) and uvicorn start this many.
    web_concurrency: int = Field(default=1, gt=0)
    # Seconds a token refresh may hold its session's lock; a worker that dies holding it
    # blocks that session's refreshes this long at most.
    refresh_lock_timeout: float = Field(default=REFRESH_LOCK_TIMEOUT, ge=2)
    # FastAPI's OpenTelemetry spans, metrics and logs, for a process that configures an
    # OpenTelemetry SDK.  Off by default: FastAPI looks for a configured provider on every
    # request (three environment reads, ~5 µs), which the app has no use for otherwise.
    app_telemetry: bool = False
    # Extra allow-list entries as JSON (see app/interceptor.py); the defaults cover the API
    # and the Management API.
    allowed_list: Annotated[list[str | dict[str, object]], NoDecode] = Field(default_factory=list)
    # DPoP (RFC 9449, app/dpop.py): bind the API's access tokens to a key only this server
    # holds; AUTH0_DPOP_KEY (a private EC P-256 JWK) keeps that key across restarts.
    auth0_dpop: bool = False
    auth0_dpop_key: str = Field(default="", repr=False)

    @field_validator("auth0_domain")
    @classmethod
    def _bare_domain(cls, value: str) -> str:
        """`your-tenant.us.auth0.com`; a pasted `https://` and trailing slash are dropped."""
        domain = value.strip().removeprefix("https://").rstrip("/")
        if domain and (
            not urlsplit(f"https://{domain}").hostname or "/" in domain or "://" in domain
        ):
            raise ValueError("it must be the tenant's domain alone, like your-tenant.us.auth0.com")
        return domain

    @field_validator("allowed_list", mode="before")
    @classmethod
    def _parse_allowed_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value) if value.strip() else []
        except ValueError:
            raise ValueError("it must be a JSON list of URLs or objects") from None

    @property
    def issuer(self) -> str:
        """The configured issuer with one trailing slash: where discovery is fetched.

        ID tokens' `iss` must equal the issuer discovery names, which may differ from this
        by that slash (app/oidc.py checks the two agree).
        """
        if self.auth0_issuer_base_url:
            return self.auth0_issuer_base_url.rstrip("/") + "/"
        if self.auth0_domain:
            return f"https://{self.auth0_domain}/"
        return DEV_TENANT_ISSUER

    @property
    def on_dev_tenant(self) -> bool:
        """True when the issuer is a loopback http URL: the embedded dev tenant or a test one."""
        parts = urlsplit(self.issuer)
        return parts.scheme == "http" and is_loopback_host(parts.hostname)

    @property
    def management_audience(self) -> str:
        return f"{self.issuer}api/v2/"

    @property
    def cookie_secure(self) -> bool:
        return urlsplit(self.app_base_url).scheme == "https"

    @property
    def session_store_kind(self) -> str:
        """`memory` or `redis`: what start-up logs, never the URL (it may hold a password)."""
        return urlsplit(self.session_store_url).scheme or "unknown"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.auth0_domain and self.auth0_issuer_base_url:
            from_domain = f"https://{self.auth0_domain}/"
            if self.auth0_issuer_base_url.rstrip("/") + "/" != from_domain:
                raise SettingsError(
                    f"AUTH0_DOMAIN ({self.auth0_domain}) and AUTH0_ISSUER_BASE_URL "
                    f"({self.auth0_issuer_base_url}) name different issuers: delete the "
                    "AUTH0_ISSUER_BASE_URL line from .env to use your Auth0 tenant, or empty "
                    "AUTH0_DOMAIN to keep the other"
                )
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" and not self.on_dev_tenant:
            raise SettingsError(
                "AUTH0_ISSUER_BASE_URL must use https:// (http:// only for localhost): "
                f"{self.issuer!r}"
            )
        for name in ("app_base_url", "api_base_url"):
            value = getattr(self, name)
            if urlsplit(value).scheme not in ("http", "https"):
                raise SettingsError(f"{name.upper()} must be an http(s) URL: {value!r}")
            setattr(self, name, value.rstrip("/"))
        self._check_workers()
        if not self.on_dev_tenant and len(self.session_secret.encode()) < MIN_SESSION_SECRET:
            raise SettingsError(
                f"SESSION_SECRET must be at least {MIN_SESSION_SECRET} bytes with a real tenant "
                "(it signs the session cookie); make one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        if not self.session_secret:
            # Dev tenant only: a per-process secret, so sessions end when the app restarts.
            self.session_secret = secrets.token_urlsafe(MIN_SESSION_SECRET)
        return self

    def _check_workers(self) -> None:
        """Several workers must share sessions (Redis) and the cookie-signing key."""
        if self.web_concurrency == 1:
            return
        if urlsplit(self.session_store_url.strip()).scheme.lower() == "memory":
            raise SettingsError(
                f"WEB_CONCURRENCY={self.web_concurrency} needs a session store all workers "
                "share: set SESSION_STORE_URL to a redis:// URL (memory:// is one process's)"
            )
        if not self.session_secret:
            raise SettingsError(
                f"WEB_CONCURRENCY={self.web_concurrency} needs one SESSION_SECRET for all "
                "workers, or each signs cookies the others refuse"
            )


def first_problem(exc: ValidationError) -> str:
    """The first problem as one sentence naming the variable, never its value (a secret)."""
    problem = exc.errors()[0]
    variable = str(problem["loc"][0]).upper() if problem["loc"] else ""
    reason = str(problem["msg"]).removeprefix("Value error, ").rstrip(".")
    if not variable:  # a check of several settings: its message names them
        return f"{reason[:1].upper()}{reason[1:]}."
    return f"{variable} is invalid: {reason[:1].lower()}{reason[1:]}."


@lru_cache
def get_settings() -> Settings:
    """The settings from the environment and `.env`; SettingsError (one sentence) if one is bad."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(first_problem(exc)) from None
