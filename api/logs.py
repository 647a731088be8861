"""How the API's own process logs: `configure_logging()`, called by its entry point.

The access line (api/middleware.py) is the API's only request log and is never turned
off, so its cost is paid on every request: about 14 µs of CPU with logging's defaults,
most of it building the `LogRecord`.  The API's format uses the level, the logger's name
and the message only, so the process skips what the logging HOWTO ("Optimization") lists
as avoidable per record: the caller's file and line (a stack walk), the thread, the
process id and the multiprocessing process name.  That saves about 4 µs a line, and no
line or field is lost.

Only the entry point calls this: an app built by `create_app()` in tests or in another
process logs however that process is configured.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """The API process's logging: `level` and above to `stream` (stderr), in LOG_FORMAT."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the HOWTO's documented switch for the caller's file and line
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=stream or sys.stderr)
