"""UTC times as the text VOD and MNS payloads carry (``2017-03-20T07:49:17Z``)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"

_now_cache = [-1, ""]  # [second, its text]: strftime runs once a second, not twice per event


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime(ISO_SECONDS)


def utc_now_text() -> str:
    second = int(time.time())
    if _now_cache[0] != second:
        _now_cache[:] = [second, utc_text(second)]
    return _now_cache[1]
