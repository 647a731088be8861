"""The dev tenant's settings and its registry of clients, APIs and demo users.

Everything defaults to the values in CONTRIBUTING.md and `.env.example`, so a fresh clone
runs with nothing configured.  `DEVTENANT_CONFIG_FILE` (JSON with any of the keys
`clients`, `apis`, `users`) replaces the corresponding defaults.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_ISSUER = "http://localhost:4000/"
DEFAULT_DATA_DIR = ".devtenant"
DEFAULT_APP_URLS = ["http://localhost:3000", "http://127.0.0.1:3000"]
ACCESS_TOKEN_LIFETIME = 24 * 60 * 60  # Auth0's default for APIs
ID_TOKEN_LIFETIME = 10 * 60 * 60  # Auth0's default for applications
REFRESH_TOKEN_LIFETIME = 30 * 24 * 60 * 60  # Auth0's default absolute refresh-token lifetime

WEB_CLIENT_ID = "quickstart-web"
WEB_CLIENT_SECRET = "quickstart-web-dev-secret"  # noqa: S105 - published dev-tenant default
SPA_CLIENT_ID = "quickstart-spa"
ADMIN_CLIENT_ID = "quickstart-admin"
ADMIN_CLIENT_SECRET = "quickstart-admin-dev-secret"  # noqa: S105 - published dev-tenant default
BACKCHANNEL_LOGOUT_PATH = "/backchannel-logout"
SAMPLE_API = "https://quickstarts/api"
SAMPLE_API_SCOPES = ["read:messages"]
MANAGEMENT_API_SCOPES = [
    "read:current_user",
    "update:current_user_metadata",
    "create:current_user_metadata",
]
CURRENT_USER_MARK = "current_user"  # in every Management API scope a user's token may carry
DELETE_SESSIONS_SCOPE = "delete:sessions"  # Auth0's scope for DELETE /api/v2/users/{id}/sessions
USER_ID_PREFIX = "auth0|"
USER_ID_HEX_DIGITS = 24


class SettingsError(ValueError):
    """Raised when a setting or the config file cannot run the tenant; one sentence for people."""


class RefreshTokenPolicy(BaseModel):
    """One entry of an application's `refresh_token.policies` (Auth0: Multi-Resource Refresh
    Token): an API the refresh token may get access tokens for, and the scopes allowed."""

    audience: str
    scope: list[str] = Field(default_factory=list)


class Client(BaseModel):
    """A registered application (Auth0: Applications)."""

    client_id: str
    client_secret: str | None = None  # None: a public client, which must use PKCE
    name: str = ""
    callbacks: list[str] = Field(default_factory=list)
    logout_urls: list[str] = Field(default_factory=list)
    web_origins: list[str] = Field(default_factory=list)
    # APIs this client may call with client_credentials (Auth0: machine-to-machine grants).
    client_grants: dict[str, list[str]] = Field(default_factory=dict)
    # APIs this client may get users' tokens for; None: every registered API.  The
    # Management API also needs `first_party` (and has only current_user scopes), so a
    # leaked refresh token of any other client cannot read or edit users' profiles.
    audiences: list[str] | None = None
    first_party: bool = False
    # OIDC Back-Channel Logout 1.0: where logout tokens are POSTed when a tenant session
    # this client took part in ends, and whether they must carry the session's `sid`
    # (without it they name only `sub`, which ends every session of the user at the client).
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    # None: a refresh may name any registered API (the dev tenant's default, so the profile
    # page works offline).  A list: Auth0's MRRT, where a refresh for an audience outside the
    # policies is silently answered with a token for the login's audience.
    refresh_token_policies: list[RefreshTokenPolicy] | None = None

    def refresh_may_switch_to(self, audience: str) -> bool:
        policies = self.refresh_token_policies
        return policies is None or any(policy.audience == audience for policy in policies)

    @property
    def is_public(self) -> bool:
        return self.client_secret is None


class Api(BaseModel):
    """A registered API (Auth0: APIs); its identifier is the `audience`."""

    identifier: str
    name: str = ""
    scopes: list[str] = Field(default_factory=list)
    # Auth0's "Enable RBAC" + "Add Permissions in the Access Token": scopes are limited to
    # the user's permissions and listed in a `permissions` claim.
    rbac: bool = False


class User(BaseModel):
    """A demo user who can log in with email and password."""

    email: str
    password: str
    name: str = ""
    picture: str | None = None  # None: the tenant serves a generated avatar
    user_id: str = ""  # empty: derived from the email, stable across restarts
    user_metadata: dict[str, Any] = Field(default_factory=dict)
    app_metadata: dict[str, Any] = Field(default_factory=dict)
    permissions: dict[str, list[str]] = Field(default_factory=dict)  # audience -> permissions

    def model_post_init(self, __context: Any) -> None:
        if not self.user_id:
            digest = hashlib.sha256(self.email.lower().encode()).hexdigest()
            self.user_id = USER_ID_PREFIX + digest[:USER_ID_HEX_DIGITS]
        if not self.name:
            self.name = self.email


class Registry(BaseModel):
    """What the tenant knows: clients, APIs and users."""

    clients: list[Client]
    apis: list[Api]
    users: list[User]

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def api(self, identifier: str) -> Api | None:
        return next((a for a in self.apis if a.identifier == identifier), None)

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.user_id == user_id), None)

    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((u for u in self.users if u.email.lower() == wanted), None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    devtenant_issuer: str = DEFAULT_ISSUER
    devtenant_data_dir: Path = Path(DEFAULT_DATA_DIR)
    # JSON, e.g. ["http://localhost:3000"]: the app's origins, for callbacks and logout URLs.
    devtenant_app_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_APP_URLS)
    )
    devtenant_access_token_lifetime: int = Field(default=ACCESS_TOKEN_LIFETIME, gt=0)
    devtenant_id_token_lifetime: int = Field(default=ID_TOKEN_LIFETIME, gt=0)
    devtenant_refresh_token_lifetime: int = Field(default=REFRESH_TOKEN_LIFETIME, gt=0)
    devtenant_config_file: Path | None = None

    @field_validator("devtenant_issuer")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("it must be an http(s) URL")
        return value.rstrip("/") + "/"

    @field_validator("devtenant_app_urls", mode="before")
    @classmethod
    def _parse_json_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError('it must be a JSON list, e.g. ["http://localhost:3000"]') from None

    @property
    def issuer(self) -> str:
        return self.devtenant_issuer

    @property
    def management_audience(self) -> str:
        return f"{self.issuer}api/v2/"

    @property
    def userinfo_audience(self) -> str:
        return f"{self.issuer}userinfo"

    @property
    def max_token_lifetime(self) -> int:
        """How long a signing key must stay published after it stops signing."""
        return max(self.devtenant_access_token_lifetime, self.devtenant_id_token_lifetime)


def default_registry(settings: Settings) -> Registry:
    """The clients, APIs and users described in CONTRIBUTING.md."""
    urls = [url.rstrip("/") for url in settings.devtenant_app_urls]
    callbacks = [f"{url}/callback" for url in urls]
    logout_urls = [f"{url}/" for url in urls]
    web = Client(
        client_id=WEB_CLIENT_ID,
        client_secret=WEB_CLIENT_SECRET,
        name="Quickstart web app",
        callbacks=callbacks,
        logout_urls=logout_urls,
        web_origins=urls,
        client_grants={SAMPLE_API: list(SAMPLE_API_SCOPES)},
        first_party=True,
        backchannel_logout_uri=f"{urls[0]}{BACKCHANNEL_LOGOUT_PATH}" if urls else None,
        backchannel_logout_session_required=True,
    )
    spa = Client(
        client_id=SPA_CLIENT_ID,
        name="Quickstart single-page app",
        callbacks=callbacks,
        logout_urls=logout_urls,
        web_origins=urls,
    )
    # A machine-to-machine client for administrators: it may end a user's sessions.
    admin = Client(
        client_id=ADMIN_CLIENT_ID,
        client_secret=ADMIN_CLIENT_SECRET,
        name="Quickstart admin (machine to machine)",
        client_grants={settings.management_audience: [DELETE_SESSIONS_SCOPE]},
    )
    apis = [
        Api(identifier=SAMPLE_API, name="Quickstarts API", scopes=list(SAMPLE_API_SCOPES)),
        Api(
            identifier=settings.management_audience,
            name="Auth0 Management API",
            scopes=list(MANAGEMENT_API_SCOPES),
        ),
    ]
    users = [
        User(
            email="alice@example.com",
            password="alice-demo-password",  # noqa: S106 - published demo password
            name="Alice Example",
            user_metadata={"theme": "light"},
            app_metadata={"plan": "demo"},
        ),
        User(
            email="bob@example.com",
            password="bob-demo-password",  # noqa: S106 - published demo password
            name="Bob Example",
        ),
    ]
    return Registry(clients=[web, spa, admin], apis=apis, users=users)


def load_registry(settings: Settings) -> Registry:
    """The defaults, with any section the config file provides replacing its default."""
    registry = default_registry(settings)
    path = settings.devtenant_config_file
    if path is None:
        return registry
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(overrides, dict):
            raise SettingsError(f"DEVTENANT_CONFIG_FILE {path} must hold a JSON object.")
        loaded = Registry.model_validate({**registry.model_dump(), **overrides})
    except OSError as exc:
        raise SettingsError(f"DEVTENANT_CONFIG_FILE {path} cannot be read.") from exc
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, SettingsError):
            raise
        raise SettingsError(f"DEVTENANT_CONFIG_FILE {path} is not a valid tenant config.") from exc
    management = loaded.api(settings.management_audience)
    if management and any(CURRENT_USER_MARK not in scope for scope in management.scopes):
        raise SettingsError(
            f"DEVTENANT_CONFIG_FILE {path}: the Management API may define only current_user scopes."
        )
    return loaded


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
