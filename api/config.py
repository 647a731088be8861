"""The API's settings: one pydantic-settings class, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_address
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RETRY_AFTER = 5  # seconds
ALLOWED_ALGORITHMS = ("RS256",)  # asymmetric only; "none" and HS* can never be configured
# The asymmetric algorithms python-jose verifies (it has no PS*).
SUPPORTED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
CLOCK_TOLERANCE = 5  # seconds of skew allowed on exp and nbf, like express-oauth2-jwt-bearer
CACHE_MAX_AGE = 600  # seconds discovery and JWKS are cached at most
JWKS_COOLDOWN = 30  # seconds between refetches caused by an unknown kid
HTTP_TIMEOUT = 5.0  # seconds for a discovery or JWKS request
# DPoP (RFC 9449) proofs, with express-oauth2-jwt-bearer's defaults.
DPOP_PROOF_MAX_AGE = 300  # seconds a proof's iat may lie in the past
DPOP_PROOF_LEEWAY = 30  # seconds a proof's iat may lie in the future (client clock ahead)
DPOP_REPLAY_CACHE_SIZE = 100_000  # proof ids remembered at once (32 bytes each)
# The proof algorithms python-jose verifies: asymmetric only (RFC 9449 §4.3 step 5).
DPOP_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512")
DpopMode = Literal["allowed", "required", "disabled"]
# Placeholders people leave in from Auth0's docs; the API refuses to start with one.
AUDIENCE_PLACEHOLDERS = ("your_api_identifier", "{yourapiidentifier}", "your-api-identifier")


class SettingsError(ValueError):
    """Raised when a setting cannot run the API; the message is one sentence for people."""


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return False


def _is_origin(value: str) -> bool:
    """True for `scheme://host[:port]` exactly, the form of a browser's Origin header."""
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}"
    return parts.scheme in ("http", "https") and bool(parts.hostname) and value == origin


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    auth0_domain: str = ""
    auth0_issuer_base_url: str = ""
    auth0_audience: str = ""
    cors_allowed_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]
    auth0_scopes_from_permissions: bool = False
    algorithms: Annotated[list[str], NoDecode] = list(ALLOWED_ALGORITHMS)
    clock_tolerance: int = Field(default=CLOCK_TOLERANCE, ge=0, le=300)
    cache_max_age: int = Field(default=CACHE_MAX_AGE, gt=0)
    jwks_cooldown: float = Field(default=JWKS_COOLDOWN, ge=0)
    http_timeout: float = Field(default=HTTP_TIMEOUT, gt=0)
    # Seconds a client is told to wait (Retry-After), and the API waits before asking the
    # issuer again, after discovery or the JWKS could not be fetched.
    issuer_retry_after: int = Field(default=RETRY_AFTER, gt=0)
    # DPoP-bound tokens: "allowed" (Bearer and DPoP), "required" (DPoP only), "disabled".
    dpop_mode: DpopMode = "allowed"
    dpop_proof_max_age: int = Field(default=DPOP_PROOF_MAX_AGE, gt=0, le=3600)
    dpop_proof_leeway: int = Field(default=DPOP_PROOF_LEEWAY, ge=0, le=300)
    dpop_replay_cache_size: int = Field(default=DPOP_REPLAY_CACHE_SIZE, ge=100)
    # FastAPI's OpenTelemetry spans, metrics and logs, for a process that configures an
    # OpenTelemetry SDK.  Off by default: FastAPI looks for a configured provider on every
    # request (three environment reads, ~5 µs), which the API has no use for otherwise.
    api_telemetry: bool = False

    @field_validator("dpop_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

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

    @field_validator("cors_allowed_origins", "algorithms", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def issuer(self) -> str:
        """The configured issuer with one trailing slash, where discovery is fetched.

        Tokens' `iss` must equal the issuer discovery names (api/jwks.py), which may
        differ from this one by that trailing slash.
        """
        if self.auth0_issuer_base_url:
            return self.auth0_issuer_base_url.rstrip("/") + "/"
        return f"https://{self.auth0_domain}/"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not (self.auth0_issuer_base_url or self.auth0_domain):
            raise ValueError("set AUTH0_DOMAIN or AUTH0_ISSUER_BASE_URL (see .env.example)")
        if self.auth0_domain and self.auth0_issuer_base_url:
            from_domain = f"https://{self.auth0_domain}/"
            if self.auth0_issuer_base_url.rstrip("/") + "/" != from_domain:
                raise ValueError(
                    f"AUTH0_DOMAIN ({self.auth0_domain}) and AUTH0_ISSUER_BASE_URL "
                    f"({self.auth0_issuer_base_url}) name different issuers: delete the "
                    "AUTH0_ISSUER_BASE_URL line from .env to use your Auth0 tenant, or empty "
                    "AUTH0_DOMAIN to keep the other"
                )
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and _is_loopback(parts.hostname)
        ):
            raise ValueError(
                f"the issuer must use https:// (http:// only for localhost): {self.issuer!r}"
            )
        audience = self.auth0_audience.strip()
        if not audience or audience.lower() in AUDIENCE_PLACEHOLDERS or "YOUR_" in audience:
            raise ValueError(
                "AUTH0_AUDIENCE is missing or still a placeholder: set it to your API's "
                "identifier (Auth0 dashboard > Applications > APIs)"
            )
        for origin in self.cors_allowed_origins:
            if origin != "*" and not _is_origin(origin):
                # A browser's Origin header has no path, not even "/": such an entry never matches.
                raise ValueError(
                    f"CORS_ALLOWED_ORIGINS entries must be origins like http://localhost:3000 "
                    f"(scheme and host, no path): {origin!r}"
                )
        unsupported = set(self.algorithms) - SUPPORTED_ALGORITHMS
        if unsupported or not self.algorithms:
            raise ValueError(
                "ALGORITHMS may only name asymmetric algorithms: "
                + ", ".join(sorted(SUPPORTED_ALGORITHMS))
            )
        return self


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
