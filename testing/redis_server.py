"""A real redis-server on a free loopback port, for tests of the Redis session store.

Started as a subprocess with no persistence configured; `stop(save=True)` still writes a
snapshot into its own directory (SHUTDOWN SAVE), so a restarted server comes back with its
data, like a production Redis with persistence after a restart.  `pause()`/`resume()`
freeze the process (SIGSTOP/SIGCONT) to make clients time out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from testing.servers import STARTUP_TIMEOUT, ServerDidNotStart, free_port

HOST = "127.0.0.1"


class RedisServer:
    def __init__(
        self, executable: str, port: int | None = None, directory: Path | None = None
    ) -> None:
        self.executable = executable
        self.port = port or free_port(HOST)
        self.directory = directory or Path(tempfile.mkdtemp(prefix="redis-test-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def command(self, *words: str) -> bytes:
        """Send one inline command and return the first reply line (for setup and checks)."""
        with socket.create_connection((HOST, self.port), timeout=STARTUP_TIMEOUT) as sock:
            sock.sendall(" ".join(words).encode() + b"\r\n")
            return sock.recv(65536).split(b"\r\n", 1)[0]

    def start(self) -> RedisServer:
        args = [self.executable, "--port", str(self.port), "--bind", HOST]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self._process = subprocess.Popen(  # fixed arguments, our own executable
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                if self.command("PING") == b"+PONG":
                    return self
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop(save=False)
                raise ServerDidNotStart(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self, save: bool = True) -> None:
        """Shut Redis down; with `save`, its data survives into the next start()."""
        process, self._process = self._process, None
        if process is None:
            return
        self.resume_process(process)
        # OSError: already gone, or the connection closed as it shut down.
        with contextlib.suppress(OSError):
            self.command("SHUTDOWN", "SAVE" if save else "NOSAVE")
        try:
            process.wait(timeout=STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """Freeze Redis: it keeps its port open but answers nothing (clients time out)."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self.resume_process(self._process)

    @staticmethod
    def resume_process(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
