"""How the services are served: what uvicorn needs that no ASGI app can do itself.

Not a service: `api/`, `app/` and `devtenant/` never import it.  The Procfile and the test
and bench runners hand it to uvicorn (`--http serving.protocol:BoundedHttpToolsProtocol`).
"""
