"""RFC 3986 percent-encoding as every Alibaba Cloud signature scheme defines it."""

from __future__ import annotations

from urllib.parse import quote

# Only A-Z a-z 0-9 - _ . ~ stay as they are; space is %20, '*' is %2A, '~' stays.
_SAFE = "-_.~"


def percent_encode(value: str) -> str:
    return quote(value, safe=_SAFE, encoding="utf-8")
