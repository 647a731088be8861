"""Which scopes a token may carry, for which API, with Auth0's RBAC rules."""

from __future__ import annotations

from dataclasses import dataclass

from devtenant.config import Api, Client, Registry, User

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
NOT_AUTHORIZED = "The client is not authorized to access this API."


@dataclass
class Resolved:
    """The scopes granted for one API and, with RBAC, the permissions claim."""

    scopes: list[str]
    permissions: list[str] | None


def api_scopes_for(api: Api, user: User | None) -> list[str]:
    """Scopes of `api` the user may hold: all of them, or with RBAC their permissions."""
    if api.rbac and user is not None:
        granted = set(user.permissions.get(api.identifier, []))
        return [scope for scope in api.scopes if scope in granted]
    return list(api.scopes)


def resolve(api: Api | None, user: User | None, requested: list[str]) -> Resolved:
    """Keep what may be granted and drop the rest, as Auth0 does at /authorize."""
    allowed = set(OIDC_SCOPES) if user is not None else set()
    if api is not None:
        allowed.update(api_scopes_for(api, user))
    scopes = [scope for scope in requested if scope in allowed]
    permissions = None
    if api is not None and api.rbac and user is not None:
        permissions = list(user.permissions.get(api.identifier, []))
    return Resolved(scopes, permissions)


def exceeding(
    api: Api | None, user: User | None, consented: list[str], requested: list[str]
) -> list[str]:
    """Requested scopes that are neither consented OIDC scopes nor defined by `api`."""
    api_allowed = set(api_scopes_for(api, user)) if api is not None else set()
    oidc_allowed = {scope for scope in consented if scope in OIDC_SCOPES}
    return [scope for scope in requested if scope not in api_allowed | oidc_allowed]


def lookup(registry: Registry, audience: str | None) -> Api | None:
    return registry.api(audience) if audience else None


def may_request(client: Client, api: Api, management_audience: str) -> bool:
    """Whether `client` may get a user's token for `api` (see `Client.audiences`)."""
    if api.identifier == management_audience and not client.first_party:
        return False
    return client.audiences is None or api.identifier in client.audiences
