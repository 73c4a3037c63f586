"""One container of clients and stores per FC instance, instead of module-level singletons.

An FC instance is one process serving many invocations while warm. What is worth keeping between
them (the settings, the pooled ``requests.Session`` with its keep-alive connections, the stores and
their connections, the last invocation's clients) lives in one :class:`Instance`, made at the first
event or ``/initialize`` by :func:`current` and closed by :func:`reset` (tests, a runtime shim's
``/initialize``, shutdown). Credentials are not kept here: FC rotates the role's STS credentials.

After ``fork``: an instance belongs to the process that made it. :func:`current` in a forked child
makes the child its own (its own session and stores), and leaves the parent's untouched: the
child must not close connections the parent still uses.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Callable, Dict, Optional, TypeVar

import requests

from .clients.session import new_session

T = TypeVar("T")


class Instance:
    """What one FC instance keeps while warm; every entry point of the process shares it.

    ``session`` is the pooled HTTP session; :meth:`once` keeps anything else made once per instance
    (settings, route table, stores, the callback app), under a name.
    """

    def __init__(self, session: Optional[requests.Session] = None) -> None:
        self.pid = os.getpid()
        self.session = session or new_session()
        self._kept: Dict[str, Any] = {}
        self._lock = threading.RLock()

    def once(self, name: str, make: Callable[[], T]) -> T:
        """The value kept under ``name``, made by ``make()`` the first time (thread-safe). An
        exception from ``make`` is not kept: the next call tries again."""
        try:
            return self._kept[name]
        except KeyError:
            pass
        with self._lock:
            if name not in self._kept:
                self._kept[name] = make()
            return self._kept[name]

    def put(self, name: str, value: Any) -> None:
        """Keep ``value`` under ``name``, replacing what was there (e.g. the last invocation's clients)."""
        self._kept[name] = value

    def get(self, name: str) -> Any:
        """The value kept under ``name``, or None."""
        return self._kept.get(name)

    def close(self) -> None:
        """Close the session and everything kept that can be closed (stores), once."""
        with self._lock:
            kept, self._kept = self._kept, {}
        for value in kept.values():
            close = getattr(value, "close", None)
            if callable(close) and not isinstance(value, type):
                with contextlib.suppress(Exception):  # shutting down: one failing close must not stop the rest
                    close()
        self.session.close()


_lock = threading.Lock()
_current: Optional[Instance] = None


def _after_fork_in_child() -> None:
    # A thread of the parent may have held the lock at the fork; the child has no such thread.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def current() -> Instance:
    """This process's instance, made on first use; a forked child gets one of its own."""
    global _current
    instance = _current
    if instance is not None and instance.pid == os.getpid():
        return instance
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = Instance()  # the parent's (if forked) is left alone: it is the parent's to close
        return _current


def reset() -> None:
    """Close this process's instance and forget it: the next :func:`current` makes a new one."""
    global _current
    with _lock:
        instance, _current = _current, None
    if instance is not None and instance.pid == os.getpid():
        instance.close()
