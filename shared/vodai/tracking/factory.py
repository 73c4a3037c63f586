"""Opening a tracking store from a URL: ``sqlite:///path``, ``redis://host:port/db``, ``memory://``.

The URL is ``VODAI_TRACKING_STORE``, by default the idempotency store's (``VODAI_IDEMPOTENCY_STORE``,
else SQLite under ``.vodai/``): the same SQLite file (its own table) or the same Redis database
(its own keys, under ``<namespace>:tracking:``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..exceptions import TrackingUrlError
from .base import TrackingStore


def default_url() -> str:
    """The idempotency store's default: SQLite beside the dead letters (.vodai/)."""
    from ..idempotency import default_url as idempotency_default

    return idempotency_default()


def open_tracking(url: str, *, namespace: str = "vodai") -> TrackingStore:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from .backends.memory import MemoryTracking

        return MemoryTracking(namespace)
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise TrackingUrlError("sqlite URL needs a path, e.g. sqlite:///.vodai/idempotency.sqlite3")
        from .backends.sqlite import SqliteTracking

        return SqliteTracking(path, namespace)
    if scheme in ("redis", "rediss", "unix"):
        from .backends.redis import RedisTracking

        return RedisTracking(url, namespace)
    # Never echo the URL: a redis URL may hold a password.
    raise TrackingUrlError(f"unsupported scheme {scheme!r}: use sqlite:///path, redis://host:port/db or memory://")
