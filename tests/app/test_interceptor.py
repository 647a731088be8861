"""The allow-list interceptor: auth0-angular's matching rules, and where a token must never go.

The far end is httpx's MockTransport, used only as a recorder of what left the client (the
transport is httpx's, not ours), so lookalike hosts need no DNS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx
import pytest

from app.config import Settings
from app.errors import InvalidAllowList, TokenUnavailable
from app.interceptor import (
    AllowedEntry,
    AllowListAuth,
    default_allowed_list,
    match,
    parse_allowed_list,
    parse_entry,
)
from app.token_source import ANONYMOUS_OK_ERRORS, token_extensions

API = "https://tenant.example.com"


class FakeSource:
    """A TokenSource (the contract): a token per audience/scope, or a TokenUnavailable."""

    def __init__(self, error: str | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str | None, str | None]] = []

    async def get_access_token(self, audience: str | None = None, scope: str | None = None) -> str:
        self.calls.append((audience, scope))
        if self.error:
            raise TokenUnavailable(self.error, "cannot")
        return f"token-for-{audience}-{scope}"


class Recorder:
    """The far end: remembers every request that actually went out."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200)


Items = Iterable[str | Mapping[str, object]]


async def send(
    items: Items,
    url: str,
    *,
    method: str = "GET",
    source: FakeSource | None = None,
    headers: dict[str, str] | None = None,
) -> Recorder:
    recorder = Recorder()
    auth = AllowListAuth(parse_allowed_list(items))
    async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(recorder)) as client:
        request = client.build_request(
            method, url, headers=headers, extensions=token_extensions(source)
        )
        await client.send(request)
    return recorder


async def authorization(items: Items, url: str, **kwargs: object) -> str | None:
    kwargs.setdefault("source", FakeSource())
    recorder = await send(items, url, **kwargs)  # type: ignore[arg-type]
    assert len(recorder.sent) == 1
    header: str | None = recorder.sent[0].headers.get("authorization")
    return header


# -- matching -------------------------------------------------------------------------------


async def test_exact_entry_matches_the_url_without_query_and_fragment() -> None:
    items = [f"{API}/api/private"]
    assert await authorization(items, f"{API}/api/private") == "Bearer token-for-None-None"
    assert await authorization(items, f"{API}/api/private?x=1#top") is not None
    assert await authorization(items, f"{API}/api/private/more") is None
    assert await authorization(items, f"{API}/api/privatex") is None


async def test_wildcard_is_a_plain_prefix_of_the_full_url_with_query() -> None:
    assert await authorization([f"{API}/api/*"], f"{API}/api/a/b?c=d") is not None
    assert await authorization([f"{API}/api/*"], f"{API}/apiary") is None
    # Plain prefix, as in auth0-angular: `/api*` covers `/apiary` because the user wrote so.
    assert await authorization([f"{API}/api*"], f"{API}/apiary") is not None


async def test_prefix_covers_the_query_string() -> None:
    items = [f"{API}/search*"]
    assert await authorization(items, f"{API}/search?q=1") is not None


async def test_http_method_must_equal() -> None:
    items = [{"uri": f"{API}/api/*", "http_method": "post"}]
    assert await authorization(items, f"{API}/api/x", method="POST") is not None
    assert await authorization(items, f"{API}/api/x", method="GET") is None


async def test_first_match_wins() -> None:
    items = [
        {"uri": f"{API}/api/special", "token_options": {"audience": "first"}},
        {"uri": f"{API}/api/*", "token_options": {"audience": "second", "scope": "s"}},
    ]
    assert await authorization(items, f"{API}/api/special") == "Bearer token-for-first-None"
    assert await authorization(items, f"{API}/api/other") == "Bearer token-for-second-s"


async def test_no_match_goes_out_untouched_without_asking_for_a_token() -> None:
    source = FakeSource()
    headers = {"Authorization": "Basic keep-me"}
    recorder = await send(
        [f"{API}/api/*"], "https://other.example/api/x", source=source, headers=headers
    )
    assert recorder.sent[0].headers["authorization"] == "Basic keep-me"
    assert source.calls == []


async def test_uri_matcher_gets_the_full_url() -> None:
    seen: list[str] = []

    def matcher(url: str) -> bool:
        seen.append(url)
        return url.endswith("?admin=1")

    items = [{"uri_matcher": matcher}]
    assert await authorization(items, f"{API}/x?admin=1") is not None
    assert await authorization(items, f"{API}/x?admin=0") is None
    assert seen == [f"{API}/x?admin=1", f"{API}/x?admin=0"]


def test_camel_case_keys_from_auth0_angular_configs_are_accepted() -> None:
    entry = parse_entry(
        {
            "uri": f"{API}/a",
            "httpMethod": "get",
            "tokenOptions": {"audience": "x"},
            "allowAnonymous": True,
        }
    )
    assert entry == AllowedEntry(
        uri=f"{API}/a", http_method="GET", audience="x", allow_anonymous=True
    )


def test_match_returns_the_entry() -> None:
    entries = parse_allowed_list([f"{API}/a", f"{API}/b*"])
    assert match(entries, "GET", f"{API}/b/c") is entries[1]
    assert match(entries, "GET", f"{API}/c") is None


# -- tokens -----------------------------------------------------------------------------------


async def test_incoming_authorization_is_overwritten() -> None:
    headers = {"Authorization": "Bearer forged"}
    got = await authorization([f"{API}/api/*"], f"{API}/api/x", headers=headers)
    assert got == "Bearer token-for-None-None"


async def test_without_a_token_source_the_request_is_not_sent() -> None:
    recorder = Recorder()
    auth = AllowListAuth(parse_allowed_list([f"{API}/api/*"]))
    async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(recorder)) as client:
        with pytest.raises(TokenUnavailable) as caught:
            await client.get(f"{API}/api/x")
    assert caught.value.error == "login_required"
    assert recorder.sent == []


async def test_token_failure_stops_the_request() -> None:
    recorder = Recorder()
    auth = AllowListAuth(parse_allowed_list([f"{API}/api/*"]))
    extensions = token_extensions(FakeSource("login_required"))
    async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(recorder)) as client:
        with pytest.raises(TokenUnavailable):
            await client.get(f"{API}/api/x", extensions=extensions)
    assert recorder.sent == []


@pytest.mark.parametrize("error", sorted(ANONYMOUS_OK_ERRORS))
async def test_allow_anonymous_sends_without_a_token_after_a_login_error(error: str) -> None:
    items = [{"uri": f"{API}/api/*", "allow_anonymous": True}]
    assert await authorization(items, f"{API}/api/x", source=FakeSource(error)) is None


async def test_allow_anonymous_without_any_source_sends_without_a_token() -> None:
    recorder = await send([{"uri": f"{API}/api/*", "allow_anonymous": True}], f"{API}/api/x")
    assert "authorization" not in recorder.sent[0].headers


async def test_allow_anonymous_still_stops_on_other_errors() -> None:
    items = [{"uri": f"{API}/api/*", "allow_anonymous": True}]
    with pytest.raises(TokenUnavailable):
        await send(items, f"{API}/api/x", source=FakeSource("token_endpoint_unavailable"))


async def test_allow_anonymous_still_attaches_a_token_when_there_is_one() -> None:
    items = [{"uri": f"{API}/api/*", "allow_anonymous": True}]
    assert await authorization(items, f"{API}/api/x") is not None


def test_sync_clients_are_refused_rather_than_sent_without_a_token() -> None:
    auth = AllowListAuth(parse_allowed_list([f"{API}/api/*"]))
    with (
        httpx.Client(auth=auth, transport=httpx.MockTransport(Recorder())) as client,
        pytest.raises(TypeError),
    ):
        client.get(f"{API}/api/x")


# -- lookalikes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://tenant.example.com.evil.test/api/x",
        "https://tenant.example.com@evil.test/api/x",
        "https://tenant.example.com:443@evil.test/api/x",
        "http://tenant.example.com/api/x",
        "https://tenant.example.com:8443/api/x",
        "https://evil.test/https://tenant.example.com/api/x",
        "https://evil.test/?https://tenant.example.com/api/x",
        "https://tenant.example.com/apix",
    ],
)
async def test_lookalike_urls_never_receive_a_token(url: str) -> None:
    items = [f"{API}/api/*", f"{API}/api/exact"]
    assert await authorization(items, url) is None


async def test_urls_are_compared_in_normal_form() -> None:
    items = [f"{API}/api/*"]
    assert await authorization(items, "HTTPS://Tenant.Example.COM:443/api/x") is not None
    # Dot segments are resolved before matching: /api/../admin is /admin.
    assert await authorization(items, f"{API}/api/../admin") is None


# -- start-up validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("https://tenant.example.com*", "path"),
        ("https://tenant.example.com", "path"),
        ("/api/*", "absolute"),
        ("api.example.com/x*", "absolute"),
        ("ftp://tenant.example.com/x*", "absolute"),
        ("https://user@tenant.example.com/x*", "user info"),
        ("https://tenant.example.com/a*b*", "only at the very end"),
        ("https://tenant.example.com/a\\b*", "backslash"),
        ("https://tenant.example.com:99999/x*", "absolute"),
        ("https://tenant.example.com/x?a=*", "query"),
        ({"uri": f"{API}/x", "uri_matcher": bool}, "exactly one"),
        ({}, "exactly one"),
        ({"uri": f"{API}/x", "audience": "x"}, "unknown key"),
        ({"uri": f"{API}/x", "token_options": {"audiance": "x"}}, "unknown token option"),
        ({"uri": f"{API}/x", "token_options": "x"}, "must be an object"),
        ({"uri": f"{API}/x", "allow_anonymous": "yes"}, "true/false"),
        ({"uri": f"{API}/x", "http_method": ""}, "non-empty"),
        ({"uri_matcher": "not callable"}, "callable"),
        (42, "URL string or an object"),
    ],
)
def test_invalid_entries_fail_start_up_with_a_clear_message(item: object, reason: str) -> None:
    with pytest.raises(InvalidAllowList, match=reason) as caught:
        parse_allowed_list([item])  # type: ignore[list-item]
    assert "\n" not in str(caught.value)


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, api_base_url="http://127.0.0.1:3999", **overrides)  # type: ignore[arg-type]


def test_default_list_covers_the_api_and_the_management_api() -> None:
    entries = default_allowed_list(settings())
    public = match(entries, "GET", "http://127.0.0.1:3999/api/public")
    private = match(entries, "GET", "http://127.0.0.1:3999/api/private")
    management = match(entries, "PATCH", "http://localhost:4000/api/v2/users/auth0|1")
    assert public is not None
    assert public.allow_anonymous
    assert private is not None
    assert not private.allow_anonymous
    assert private.audience == public.audience == "https://quickstarts/api"
    assert management is not None
    assert management.audience == "http://localhost:4000/api/v2/"
    assert management.scope == (
        "read:current_user update:current_user_metadata create:current_user_metadata"
    )
    assert match(entries, "GET", "http://127.0.0.1:3999/other") is None


def test_extra_entries_come_first_so_they_can_override_the_defaults() -> None:
    extra = {"uri": "http://127.0.0.1:3999/api/private", "allow_anonymous": True}
    entries = default_allowed_list(settings(allowed_list=[extra]))
    private = match(entries, "GET", "http://127.0.0.1:3999/api/private")
    assert private is not None
    assert private.allow_anonymous


def test_extra_entries_are_read_from_json_and_validated() -> None:
    entries = default_allowed_list(settings(allowed_list='["https://other.example/v1/*"]'))
    assert match(entries, "GET", "https://other.example/v1/x") is entries[0]
    with pytest.raises(InvalidAllowList):
        default_allowed_list(settings(allowed_list='["https://other.example*"]'))


async def test_ipv6_hosts_and_ports_are_kept_apart() -> None:
    items = ["http://[::1]:8080/api/*"]
    assert await authorization(items, "http://[::1]:8080/api/x") is not None
    assert await authorization(items, "http://[::1]/api/x") is None
    assert await authorization(items, "http://[::1]:8081/api/x") is None
