"""The baseline for `/api/public`: one FastAPI route on the same uvicorn, nothing else.

`uvicorn bench.bare:app` serves it; `bench.public` and `bench.layers` compare our API's
public route against it, so the figure is what our middleware and routing add.
"""

from __future__ import annotations

from fastapi import FastAPI

PUBLIC_BODY = {
    "message": "Hello from a public endpoint! You don't need to be authenticated to see this."
}


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/public")
    async def public() -> dict[str, str]:
        return PUBLIC_BODY

    return app


app = bare_app()
