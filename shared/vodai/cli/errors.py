"""What the command line says when a command fails: one or two lines, never a traceback.

Errors vodai raises on purpose already name the setting and the fix; the rest get the same
treatment here, with ``vodai --debug`` as the way to see the traceback.
"""

from __future__ import annotations

import contextlib
import errno
from typing import Iterator

import click

from ..exceptions import VodaiError
from ..extras import NEEDS_EXTRA, missing_extra

DEBUG_HINT = "run `vodai --debug ...` for the traceback"


def describe(exc: BaseException) -> str:
    """One or two lines for ``exc``: what went wrong, and what to do about it."""
    if missing_extra(exc):
        return NEEDS_EXTRA
    if isinstance(exc, VodaiError):
        from ..exceptions import TrackingError
        from ..idempotency import IdempotencyError

        if isinstance(exc, IdempotencyError):
            return f"{exc}\ncheck VODAI_IDEMPOTENCY_STORE: is the store running and reachable from here?"
        if isinstance(exc, TrackingError):
            return f"{exc}\ncheck VODAI_TRACKING_STORE (else VODAI_IDEMPOTENCY_STORE): is the store reachable?"
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "address already in use: pick another --port (0 picks a free one)"
    return f"unexpected {type(exc).__name__}: {exc}\n{DEBUG_HINT}"


@contextlib.contextmanager
def listening(host: str, port: int) -> Iterator[None]:
    """Turns a port that is taken into a one-line error naming ``--port``."""
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise click.ClickException(f"--port {port}: {host}:{port} is already in use: pick another port "
                                   "(--port 0 picks a free one)") from None
