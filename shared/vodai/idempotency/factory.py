"""Opening a store from ``VODAI_IDEMPOTENCY_STORE``: ``sqlite:///path``, ``redis://host:port/db``, ``memory://``."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..exceptions import StoreUrlError
from .base import IdempotencyStore


def default_url() -> str:
    """SQLite beside the dead letters (.vodai/): right for local runs and replay; on FC use redis://."""
    from ..paths import state_dir

    return "sqlite:///" + str(state_dir() / "idempotency.sqlite3")


def open_store(url: str) -> IdempotencyStore:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from .backends.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path, as SQLAlchemy spells them.
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise StoreUrlError("sqlite URL needs a path, e.g. sqlite:///.vodai/idempotency.sqlite3")
        from .backends.sqlite import SqliteStore

        return SqliteStore(path)
    if scheme in ("redis", "rediss", "unix"):
        from .backends.redis import RedisStore

        return RedisStore(url)
    # Never echo the URL: a redis URL may hold a password.
    raise StoreUrlError(f"unsupported scheme {scheme!r}: use sqlite:///path, redis://host:port/db or memory://")
