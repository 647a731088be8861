"""Real uvicorn servers on free loopback ports, for integration tests.

Each server runs in its own thread with its own event loop, so a test talks to it
over real HTTP exactly as a browser or another service would.  A server can be
stopped and started again on the same port, which the fault tests rely on.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import uvicorn

from serving.protocol import BoundedHttpToolsProtocol

STARTUP_TIMEOUT = 10.0  # seconds a server may take to start before the test fails


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class ServerDidNotStart(RuntimeError):
    """Raised when a server has not answered within STARTUP_TIMEOUT or crashed while starting."""


class StartStop:
    """`with server:` starts it, and stops it afterwards whatever happens."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LiveServer(StartStop):
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:54321."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            http=BoundedHttpToolsProtocol,  # as `python -m serving` (the Procfile) runs it
            # Keep tests snappy: no long graceful waits when a test stops a server.
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn:{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise ServerDidNotStart(f"server on port {self.port} exited while starting")
            if time.monotonic() > deadline:
                server.should_exit = True
                raise ServerDidNotStart(f"server on port {self.port} did not start in time")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT)
        self._server = self._thread = None
