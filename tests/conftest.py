"""Fixtures shared by every test package.

Tests that need a service the machine may lack (Chromium, redis-server, node) must
not silently skip in CI: `require()` skips locally with a reason but fails when
the CI environment variable is set.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require(executable: str, why: str) -> str:
    """Path of `executable`; skip the test locally, fail it in CI, when it is missing."""
    path = shutil.which(executable)
    if path is None:
        message = f"{executable} is not installed ({why}); scripts/test installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
