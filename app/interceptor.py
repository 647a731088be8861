"""auth0-angular's `httpInterceptor.allowedList`, as an `httpx.Auth` on the one shared client.

An allow-list entry is a URL string or a mapping::

    {"uri": "https://api.example.com/orders/*",     # or "uri_matcher": callable(url) -> bool
     "http_method": "POST",                           # optional: only this method
     "token_options": {"audience": "...", "scope": "..."},
     "allow_anonymous": False}

Semantics are auth0-angular's: the first matching entry wins; a `uri` without `*` must equal
the request URL without its query and fragment; a `uri` ending in `*` is a plain prefix of the
full URL (query included); `http_method`, when given, must equal the request's method; a
request that matches nothing goes out untouched.  A matching request gets
`Authorization: Bearer <token>` from the user's `TokenSource`; when no token can be had the
request is not sent (`TokenUnavailable` reaches the caller), unless the entry allows anonymous
calls and the error is one the user could fix by logging in (`ANONYMOUS_OK_ERRORS`): then it
goes out as it is, without a token.  A token bound to the app's DPoP key (app/dpop.py) goes
as `Authorization: DPoP <token>` with a fresh `DPoP` proof for this method and URL instead.

Safer than the original: every `uri` must be an absolute http(s) URL, and a wildcard must name
an origin *and* a path (`https://host/path*`), so `https://host*` can never match
`https://host.evil.test/`.  URLs are compared in httpx's normal form (lower-case host, no
default port, no userinfo, dot segments resolved), so `https://host@evil.test/` is evil.test.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from app.config import MANAGEMENT_API_SCOPE
from app.dpop import DpopKey
from app.errors import InvalidAllowList, TokenUnavailable
from app.token_source import ANONYMOUS_OK_ERRORS, TOKEN_SOURCE, TokenSource

if TYPE_CHECKING:
    from app.config import Settings

UriMatcher = Callable[[str], bool]
WILDCARD = "*"
DEFAULT_PORTS = {"http": 80, "https": 443}
PUBLIC_API_PATH = "/api/public"  # the quickstart API's route that needs no token
# auth0-angular spells its keys in camelCase; accept those too so configs can be copied over.
_KEY_ALIASES = {
    "uriMatcher": "uri_matcher",
    "httpMethod": "http_method",
    "tokenOptions": "token_options",
    "allowAnonymous": "allow_anonymous",
}
_ENTRY_KEYS = frozenset({"uri", "uri_matcher", "http_method", "token_options", "allow_anonymous"})
_TOKEN_OPTION_KEYS = frozenset({"audience", "scope"})


@dataclass(frozen=True)
class AllowedEntry:
    """One allow-list entry, validated; `uri` is kept in httpx's normal form."""

    uri: str | None = None
    uri_matcher: UriMatcher | None = None
    http_method: str | None = None
    audience: str | None = None
    scope: str | None = None
    allow_anonymous: bool = False

    @property
    def is_prefix(self) -> bool:
        return self.uri is not None and self.uri.endswith(WILDCARD)

    def matches(self, method: str, full: str) -> bool:
        """Whether the entry names a call, given the URL's normal form with its query
        (`_normal_form`, computed once per call, not once per entry)."""
        if self.http_method is not None and self.http_method != method.upper():
            return False
        if self.uri_matcher is not None:
            return bool(self.uri_matcher(full))
        assert self.uri is not None  # one of uri / uri_matcher is always set
        if self.is_prefix:
            return full.startswith(self.uri[: -len(WILDCARD)])
        return self.uri == full.partition("?")[0]


def _normal_form(url: httpx.URL) -> str:
    """`scheme://host[:port]/path[?query]`: no userinfo, no fragment, as httpx sends it."""
    path = url.raw_path.decode("ascii")
    host = url.raw_host.decode("ascii")
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    # httpx keeps `:443` when the scheme was written in upper case; drop default ports here.
    if url.port is not None and url.port != DEFAULT_PORTS.get(url.scheme):
        host = f"{host}:{url.port}"
    return f"{url.scheme}://{host}{path}"


def _check_uri(uri: str) -> str:
    """The entry's `uri` in normal form, or InvalidAllowList saying what is wrong with it."""
    is_prefix = uri.endswith(WILDCARD)
    base = uri[: -len(WILDCARD)] if is_prefix else uri
    problem = None
    if WILDCARD in base:
        problem = "'*' is allowed only at the very end"
    elif any(c.isspace() or c == "\\" for c in base):
        problem = "it contains whitespace or a backslash"
    else:
        try:
            parts = urlsplit(base)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "it must be an absolute http(s) URL such as https://api.example.com/path*"
        elif "@" in parts.netloc:
            problem = "it must not contain user info (user@host)"
        elif not parts.path.startswith("/"):
            problem = "it must name a path after the host, such as https://api.example.com/path*"
        elif parts.fragment or (is_prefix and parts.query) or base.endswith(("?", "#")):
            problem = "a query or fragment cannot be matched here"
    if problem:
        raise InvalidAllowList(f"Allow-list entry {uri!r} is invalid: {problem}.")
    normal = _normal_form(httpx.URL(base))
    return normal + WILDCARD if is_prefix else normal


def _optional_str(entry: Mapping[str, object], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and value.strip()):
        return value.strip() if isinstance(value, str) else None
    raise InvalidAllowList(f"Allow-list entry {where}: {key!r} must be a non-empty string.")


def _token_options(entry: Mapping[str, object], where: str) -> Mapping[str, object]:
    options = entry.get("token_options") or {}
    if not isinstance(options, Mapping):
        raise InvalidAllowList(f"Allow-list entry {where}: 'token_options' must be an object.")
    unknown = set(options) - _TOKEN_OPTION_KEYS
    if unknown:
        raise InvalidAllowList(
            f"Allow-list entry {where}: unknown token option(s) {sorted(unknown)}."
        )
    return options


def parse_entry(item: str | Mapping[str, object] | AllowedEntry) -> AllowedEntry:
    """One entry from its config form (a URL string or a mapping); InvalidAllowList if bad."""
    if isinstance(item, AllowedEntry):
        return item
    if isinstance(item, str):
        return AllowedEntry(uri=_check_uri(item.strip()))
    if not isinstance(item, Mapping):
        raise InvalidAllowList(f"Allow-list entry {item!r} must be a URL string or an object.")
    entry = {_KEY_ALIASES.get(key, key): value for key, value in item.items()}
    where = repr(entry.get("uri", "<uri_matcher>"))
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise InvalidAllowList(f"Allow-list entry {where}: unknown key(s) {sorted(unknown)}.")
    uri, matcher = entry.get("uri"), entry.get("uri_matcher")
    if (uri is None) == (matcher is None):
        raise InvalidAllowList(f"Allow-list entry {where}: give exactly one of uri, uri_matcher.")
    if matcher is not None and not callable(matcher):
        raise InvalidAllowList(f"Allow-list entry {where}: 'uri_matcher' must be callable.")
    if uri is not None and not isinstance(uri, str):
        raise InvalidAllowList(f"Allow-list entry {where}: 'uri' must be a string.")
    allow_anonymous = entry.get("allow_anonymous", False)
    if not isinstance(allow_anonymous, bool):
        raise InvalidAllowList(f"Allow-list entry {where}: 'allow_anonymous' must be true/false.")
    method = _optional_str(entry, "http_method", where)
    options = _token_options(entry, where)
    return AllowedEntry(
        uri=_check_uri(uri.strip()) if uri is not None else None,
        uri_matcher=matcher if callable(matcher) else None,
        http_method=method.upper() if method else None,
        audience=_optional_str(options, "audience", where),
        scope=_optional_str(options, "scope", where),
        allow_anonymous=allow_anonymous,
    )


def parse_allowed_list(
    items: Iterable[str | Mapping[str, object] | AllowedEntry],
) -> list[AllowedEntry]:
    """Every entry validated, in order; InvalidAllowList (one sentence) on the first bad one."""
    return [parse_entry(item) for item in items]


def default_allowed_list(settings: Settings) -> list[AllowedEntry]:
    """`settings.allowed_list` first (so it can override), then the API and Management API.

    The API's public route comes before its wildcard: first match wins, and it must go out
    even when the user is not logged in.
    """
    # No audience configured: ask for the app's default token (no token_options), which
    # the External API page warns about; an empty string would be refused as an option.
    api, audience = settings.api_base_url, settings.auth0_audience or None
    defaults: list[Mapping[str, object]] = [
        {
            "uri": f"{api}{PUBLIC_API_PATH}",
            "token_options": {"audience": audience},
            "allow_anonymous": True,
        },
        {"uri": f"{api}/api/*", "token_options": {"audience": audience}},
        {
            "uri": f"{settings.management_audience}*",
            "token_options": {
                "audience": settings.management_audience,
                "scope": MANAGEMENT_API_SCOPE,
            },
        },
    ]
    return parse_allowed_list([*settings.allowed_list, *defaults])


def match(
    entries: Iterable[AllowedEntry], method: str, url: httpx.URL | str
) -> AllowedEntry | None:
    """The first entry that matches the request, or None."""
    if not isinstance(url, httpx.URL):
        url = httpx.URL(url)
    full = _normal_form(url)
    for entry in entries:
        if entry.matches(method, full):
            return entry
    return None


class AllowListAuth(httpx.Auth):
    """Attaches the user's access token to requests the allow-list names, and only to those.

    The user's `TokenSource` comes with each request in `request.extensions[TOKEN_SOURCE]`;
    a matching request without one is treated as `TokenUnavailable("login_required")`.
    """

    def __init__(self, entries: Iterable[AllowedEntry], dpop: DpopKey | None = None) -> None:
        self.entries = tuple(entries)
        self.dpop = dpop

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        # The token sources are async; sending unauthenticated instead would fail silently.
        raise TypeError("AllowListAuth works only with httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator, as httpx expects

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        source = request.extensions.get(TOKEN_SOURCE)
        for name, value in await self.credentials(request.method, request.url, source):
            request.headers[name] = value
        yield request

    async def credentials(
        self, method: str, url: httpx.URL, source: TokenSource | None
    ) -> list[tuple[str, str]]:
        """The headers that carry the user's token to `url`: none when no entry matches.

        The one decision both paths share: httpx's auth flow above, and the proxy, which
        sends to the API without httpx's request models (app/proxy.py).
        """
        return await self.credentials_for(self.entry_for(method, url), method, url, source)

    def entry_for(self, method: str, url: httpx.URL) -> AllowedEntry | None:
        """The first entry that names the request (its token goes with it), or None."""
        return match(self.entries, method, url)

    async def credentials_for(
        self, entry: AllowedEntry | None, method: str, url: httpx.URL, source: TokenSource | None
    ) -> list[tuple[str, str]]:
        """`credentials`, given `entry_for(method, url)` (the proxy keeps it per URL)."""
        if entry is None:
            return []
        token = await self._token_for(entry, source)
        if token and self.dpop is not None and self.dpop.binds(token):
            return [
                ("Authorization", f"DPoP {token}"),
                ("DPoP", self.dpop.proof(method, str(url), token)),
            ]
        return [("Authorization", f"Bearer {token}")] if token else []

    @staticmethod
    async def _token_for(entry: AllowedEntry, source: TokenSource | None) -> str | None:
        """The token, None to send anonymously, or TokenUnavailable to not send at all."""
        try:
            if source is None:
                raise TokenUnavailable("login_required", "No user is logged in.")
            return await source.get_access_token(audience=entry.audience, scope=entry.scope)
        except TokenUnavailable as exc:
            if entry.allow_anonymous and exc.error in ANONYMOUS_OK_ERRORS:
                return None
            raise
