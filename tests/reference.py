"""Auth0's Express sample API (bench/reference/server.js) as a real node process.

The conformance test runs it beside our API against the same test issuer and asserts
both give the same verdict for the same request.
"""

from __future__ import annotations

import os

import pytest

from testing.processes import REFERENCE_DIR, ManagedProcess, express_reference
from testing.servers import StartStop, free_port
from tests.conftest import require


class ExpressReference(StartStop):
    """`node bench/reference/server.js` on a free loopback port; a context manager."""

    def __init__(
        self, issuer_url: str, audience: str, port: int | None = None, dpop: str = "allowed"
    ) -> None:
        node = require("node", "Auth0's Express reference runs on node")
        if not (REFERENCE_DIR / "node_modules").is_dir():
            message = "bench/reference/node_modules is missing: npm ci --prefix bench/reference"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self._process: ManagedProcess = express_reference(
            issuer_url, audience, port or free_port(), node=node, dpop=dpop
        )

    @property
    def url(self) -> str:
        """Base URL without a trailing slash."""
        return self._process.url

    def start(self) -> ExpressReference:
        self._process.start()
        return self

    def stop(self) -> None:
        self._process.stop()
