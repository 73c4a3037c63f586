"""Serving the shim under waitress: one code path for ``vodai serve`` and the deployed ``bootstrap``."""

from __future__ import annotations

from typing import Callable, Optional

from . import logs

THREADS = 8  # concurrent invocations per instance (FC's InstanceConcurrency)


def serve(app, host: str, port: int, *, on_ready: Optional[Callable[[str], None]] = None, threads: int = THREADS) -> None:
    """Serve until the process is stopped. ``port=0`` picks a free port; ``on_ready`` gets the URL
    once the socket is bound, so a caller can announce it without a race."""
    from waitress import create_server

    logs.install()
    server = create_server(app, host=host, port=port, threads=threads)
    if on_ready is not None:
        on_ready(f"http://{host}:{server.effective_port}")
    try:
        server.run()
    finally:
        server.close()
