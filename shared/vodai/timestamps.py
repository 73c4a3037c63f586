"""UTC times as the text VOD and MNS payloads carry (``2017-03-20T07:49:17Z``)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any, Callable, List

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime(ISO_SECONDS)


def _once_a_second(render: Callable[[int], str]) -> Callable[[], str]:
    """The current second rendered by ``render``, rendered once per second (not once or twice per
    event: formatting a date cost more than signing a request)."""
    cache: List[Any] = [-1, ""]

    def now_text() -> str:
        second = int(time.time())
        if cache[0] != second:
            cache[:] = [second, render(second)]
        return cache[1]

    return now_text


#: ``2017-03-20T07:49:17Z``: VOD's timestamps, the topic message's SubmittedAt.
utc_now_text = _once_a_second(utc_text)
#: ``Mon, 20 Mar 2017 07:49:17 GMT``: the HTTP date MNS signs.
http_date_now = _once_a_second(lambda second: formatdate(second, usegmt=True))




_this_second = (-1, "")  # (second, its text without the "Z"): one tuple, read and replaced whole (threads)


def utc_millis_text(epoch: float) -> str:
    """``2017-03-20T07:49:17.123Z``, exactly as ``datetime.fromtimestamp(epoch, timezone.utc)
    .isoformat(timespec="milliseconds")`` spells it (microseconds rounded half to even, then
    truncated), the date and time of day rendered once a second: every outcome line carries one."""
    global _this_second
    second = math.floor(epoch)
    micros = round((epoch - second) * 1e6)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    cached = _this_second
    if cached[0] != second:
        cached = _this_second = (second, utc_text(second)[:-1])
    return f"{cached[1]}.{micros // 1000:03d}Z"


def utc_now_millis() -> str:
    return utc_millis_text(time.time())


def parse_utc(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (``2024-05-01``, ``2024-05-01T08:00:00Z``, with an
    offset); a time without a zone is UTC.

    Raises
    ------
    ValueError
        ``text`` is not an ISO 8601 date or time.
    """
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
