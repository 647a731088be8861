"""`DirectRoute` (api/routing.py): the same routes, documents and errors, without FastAPI's
dependency resolution where there is none to do."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Response

from api.main import create_app
from api.routing import DirectRoute
from api.security import ClaimsDep
from testing.issuer import TestIssuer
from testing.servers import LiveServer
from tests.api.conftest import settings_for

# `/openapi.json` as served with FastAPI's stock `APIRoute` and `include_router`, before
# `DirectRoute`: regenerate it only for an intended change to the document.
OPENAPI_SNAPSHOT = Path(__file__).with_name("openapi.json")


async def test_openapi_document_is_byte_identical_to_the_stock_route_class(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/openapi.json")
    assert response.content == OPENAPI_SNAPSHOT.read_bytes()


def test_every_api_route_is_served_directly(issuer: TestIssuer) -> None:
    app = create_app(settings_for(issuer))
    routes = [route for route in app.routes if getattr(route, "path", "").startswith("/api/")]
    assert len(routes) == 7  # public (GET), and GET + POST for the three protected ones
    for route in routes:
        assert isinstance(route, DirectRoute)
        assert route.app is not route.fastapi_app, route.path


def _app_with(route_path: str, endpoint: object, **options: object) -> FastAPI:
    app = FastAPI()
    app.router.add_api_route(
        route_path,
        endpoint,  # type: ignore[arg-type]
        route_class_override=DirectRoute,
        **options,  # type: ignore[arg-type]
    )
    return app


async def _get(app: FastAPI, url: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(url, **kwargs)  # type: ignore[arg-type]


async def test_a_route_body_limit_gets_fastapis_handler() -> None:
    async def plain() -> Response:
        return Response("ok")

    app = _app_with("/plain", plain, max_body_size=10)
    (route,) = [route for route in app.routes if isinstance(route, DirectRoute)]
    assert route.app is route.fastapi_app


@pytest.mark.parametrize("reason", ["query parameter", "serialized return value"])
async def test_an_endpoint_needing_more_gets_fastapis_handler(reason: str) -> None:
    async def with_query(q: str) -> Response:
        return Response(q)

    async def with_model() -> dict[str, str]:
        return {"q": "x"}

    endpoint = with_query if reason == "query parameter" else with_model
    app = _app_with("/echo", endpoint)
    (route,) = [route for route in app.routes if isinstance(route, DirectRoute)]
    assert route.app is route.fastapi_app
    response = await _get(app, "/echo", params={"q": "x"})
    assert response.status_code == 200
    assert "x" in response.text
    assert (await _get(app, "/echo")).status_code == (422 if endpoint is with_query else 200)


async def test_dependency_overrides_are_honoured(issuer: TestIssuer) -> None:
    """A test that replaces the token dependency gets FastAPI's handler, which applies it."""
    app = create_app(settings_for(issuer))
    (route,) = [r for r in app.routes if getattr(r, "path", "") == "/api/external"][:1]
    assert isinstance(route, DirectRoute)
    (dependency,) = route.dependant.dependencies
    assert dependency.call is not None
    app.dependency_overrides[dependency.call] = lambda: {"sub": "override"}
    with LiveServer(app) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/api/external")  # no token at all
    assert response.status_code == 200


async def test_errors_reach_the_one_handler(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/private-scoped", headers={"Authorization": "Basic x"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.headers["www-authenticate"].startswith('Bearer realm="api"')


async def test_a_directly_called_dependency_sees_the_request(issuer: TestIssuer) -> None:
    seen: list[str] = []

    async def whoami(claims: ClaimsDep) -> Response:
        seen.append(claims["sub"])
        return Response(claims["sub"])

    app = create_app(settings_for(issuer))
    app.router.add_api_route("/whoami", whoami, route_class_override=DirectRoute)
    (route,) = [r for r in app.routes if getattr(r, "path", "") == "/whoami"]
    assert isinstance(route, DirectRoute)
    assert route.app is not route.fastapi_app
    with LiveServer(app) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            token = issuer.token(sub="auth0|direct")
            response = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
            refused = await client.get("/whoami")
    assert response.text == "auth0|direct"
    assert seen == ["auth0|direct"]
    assert refused.status_code == 401
