"""UTC times as the text VOD and MNS payloads carry (``2017-03-20T07:49:17Z``)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Callable

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime(ISO_SECONDS)


def _once_a_second(render: Callable[[int], str]) -> Callable[[], str]:
    """The current second rendered by ``render``, rendered once per second (not once or twice per
    event: formatting a date cost more than signing a request)."""
    cache = [-1, ""]

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
