"""Logs like FC's built-in Python runtime, so a shim's output reads the same in SLS or a terminal.

    FC Invoke Start RequestId: 1f9e...
    2020-04-07T02:53:01.981Z 1f9e... [INFO] message
    FC Invoke End RequestId: 1f9e...

The request id of the invocation running on this thread is kept in a context variable, so log
lines of concurrent invocations (waitress threads) carry their own id.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from typing import Iterator

_request_id: contextvars.ContextVar = contextvars.ContextVar("fc_request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def _marker(line: str) -> None:
    # Written directly (not through logging): markers must appear whatever the log level.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@contextlib.contextmanager
def invocation(kind: str, request_id: str) -> Iterator[None]:
    """``FC <kind> Start/End RequestId: <id>`` around a call (kind: Invoke or Initialize);
    the End marker is written even when the call fails, as FC does."""
    token = _request_id.set(request_id)
    _marker(f"FC {kind} Start RequestId: {request_id}")
    try:
        yield
    finally:
        _marker(f"FC {kind} End RequestId: {request_id}")
        _request_id.reset(token)


class FcFormatter(logging.Formatter):
    """``<UTC time with ms>Z <request id> [LEVEL] message``; lines outside an invocation omit the id."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        request_id = current_request_id()
        prefix = f"{stamp} {request_id}" if request_id else stamp
        return f"{prefix} [{record.levelname}] {message}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (pytest's capture replaces it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def install(level: int = logging.INFO) -> logging.Handler:
    """Route the root logger to stderr in FC's format (once per process); returns the handler."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, _StderrHandler):
            return handler
    handler = _StderrHandler()
    handler.setFormatter(FcFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler
