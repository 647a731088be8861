"""`DirectRoute`: FastAPI's route class, minus dependency resolution where there is none to do.

The API's endpoints take at most one parameter, the request's access token (`AccessToken`
in api/security.py), and return a ready `Response`.  For those, FastAPI's request handler
is mostly overhead: `solve_dependencies`, two `AsyncExitStack`s and the response-model
machinery cost about as much as the rest of a request (`python -m bench.layers`).  This
route class, FastAPI's documented extension point ("Custom Request and APIRoute class"),
calls the `AccessToken` dependencies and the endpoint directly instead.

Everything else is FastAPI's: the route's OpenAPI operation (built from the same
`dependant`; tests/api/test_routing.py compares `/openapi.json` with a snapshot taken with
the stock class), matching, 405s, and errors, which propagate to the app's exception
handlers exactly as from FastAPI's own handler.  An endpoint that needs anything more (a
query or body parameter, another dependency, a return value to serialize, a route-level
`max_body_size`), or an app with `dependency_overrides`, gets FastAPI's own handler: the
shortcut never changes what a route means.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from fastapi import Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.security import AccessToken

Endpoint = Callable[..., Awaitable[Response]]
# What an endpoint's parameters resolve to: (parameter name, the dependency to call).
Plan = tuple[tuple[str, AccessToken], ...]


class DirectRoute(APIRoute):
    """An `APIRoute` that calls `AccessToken` dependencies and the endpoint directly."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.fastapi_app: ASGIApp = self.app  # FastAPI's own handler, the fallback
        plan = direct_plan(self.dependant, endpoint)
        if plan is not None and self.max_body_size is None:  # a body limit is FastAPI's
            self.app = self._direct_app(endpoint, plan)

    def _direct_app(self, endpoint: Endpoint, plan: Plan) -> ASGIApp:
        fallback = self.fastapi_app
        overrides = self.dependency_overrides_provider

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if overrides is not None and getattr(overrides, "dependency_overrides", None):
                await fallback(scope, receive, send)  # a test replaced a dependency
                return
            if plan:
                request = Request(scope, receive, send)
                response = await endpoint(**{name: await call(request) for name, call in plan})
            else:
                response = await endpoint()
            await response(scope, receive, send)

        return app


def direct_plan(dependant: Dependant, endpoint: Callable[..., Any]) -> Plan | None:
    """How to call `endpoint` without FastAPI's resolver, or None when it needs FastAPI."""
    if not inspect.iscoroutinefunction(endpoint) or not _returns_response(endpoint):
        return None
    if _takes_anything_but_dependencies(dependant):
        return None
    plan: list[tuple[str, AccessToken]] = []
    for dependency in dependant.dependencies:
        call = dependency.call
        if not isinstance(call, AccessToken) or dependency.name is None:
            return None
        if dependency.dependencies or _takes_anything_but_dependencies(dependency, "request"):
            return None
        plan.append((dependency.name, call))
    return tuple(plan)


def _returns_response(endpoint: Callable[..., Any]) -> bool:
    returned = get_type_hints(endpoint).get("return")
    return isinstance(returned, type) and issubclass(returned, Response)


def _takes_anything_but_dependencies(dependant: Dependant, request: str | None = None) -> bool:
    """True when `dependant` reads parameters, or special objects other than `request`."""
    return bool(
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.request_param_name != request
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    )
