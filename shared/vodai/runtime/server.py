"""Serving the shim under waitress: one code path for ``vodai serve`` and the deployed ``bootstrap``.

Why the connection bounds: VOD counts a callback only when it is answered within 5 seconds.
waitress stops accepting at ``connection_limit`` open connections (100 by default) and keeps an
idle one for ``channel_timeout`` (120 s), so about 100 idle or slow clients used to keep VOD's
callbacks waiting past that window. Idle and slow connections hold no worker thread (waitress
reads a request in full before handing it to one), so many may stay open; each is closed after
a short inactivity, and the cleanup that closes them runs often.
"""

from __future__ import annotations

from typing import Callable, Optional

from . import logs

THREADS = 8  # concurrent invocations per instance (FC's InstanceConcurrency)
#: Open connections accepted at once (waitress's default, 100, let idle clients lock VOD out).
CONNECTION_LIMIT = 1000
#: Seconds a connection may stay without activity (a slow or idle client) before it is closed.
CHANNEL_TIMEOUT = 10
#: Seconds between checks for such connections.
CLEANUP_INTERVAL = 2


def serve(app, host: str, port: int, *, on_ready: Optional[Callable[[str], None]] = None, threads: int = THREADS) -> None:
    """Serve until the process is stopped. ``port=0`` picks a free port; ``on_ready`` gets the URL
    once the socket is bound, so a caller can announce it without a race."""
    from waitress import create_server

    logs.install()
    server = create_server(app, host=host, port=port, threads=threads, connection_limit=CONNECTION_LIMIT,
                           channel_timeout=CHANNEL_TIMEOUT, cleanup_interval=CLEANUP_INTERVAL)
    if on_ready is not None:
        on_ready(f"http://{host}:{server.effective_port}")
    try:
        server.run()
    finally:
        server.close()
