"""The emulator's clock: what job schedules, CreationTime, EventTime and PublishTime read.

Real time by default (the server), with an offset that :meth:`Clock.advance` moves forward, so
a running server can be told "an hour has passed" without waiting. A test freezes it at a
start time instead (``Clock(start=...)`` or :meth:`Clock.frozen`) and advances it by hand:
nothing then depends on how fast the test runs.

Request signatures are still checked against real time (they come from real clients), and the
callback signature timestamp is real time too (the receiver checks it against its own clock).
"""

from __future__ import annotations

import threading
import time
from typing import Optional


class Clock:
    """``now()`` = (``start`` if frozen, else ``time.time()``) + the advanced offset, in seconds."""

    def __init__(self, start: Optional[float] = None) -> None:
        self._start = start
        self._offset = 0.0
        self._lock = threading.Lock()

    @classmethod
    def frozen(cls, start: float = 1_700_000_000.0) -> "Clock":
        """A clock that moves only when advanced (default start: 2023-11-14T22:13:20Z)."""
        return cls(start=start)

    @property
    def is_frozen(self) -> bool:
        return self._start is not None

    def now(self) -> float:
        with self._lock:
            base = self._start if self._start is not None else time.time()
            return base + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0); returns the new ``now()``."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def describe(self) -> dict:
        return {"now": self.now(), "frozen": self.is_frozen, "offset": self._offset}


__all__ = ["Clock"]
