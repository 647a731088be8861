"""An ASGI `http` scope as uvicorn builds one for a plain GET, for calling an app in process.

The in-process benchmarks (`bench.layers`, `bench.proxy_cpu`) call the ASGI app directly,
with no server and no sockets, so that what they time is the app's own work.
"""

from __future__ import annotations

from typing import Any

Headers = list[tuple[bytes, bytes]]
CLIENT = ("127.0.0.1", 50000)


def get_scope(path: str, headers: Headers, port: int) -> dict[str, Any]:
    """The scope of `GET path` with `headers`, received on loopback `port`."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": CLIENT,
        "server": ("127.0.0.1", port),
        "state": {},
    }
