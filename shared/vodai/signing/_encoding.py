"""RFC 3986 percent-encoding and the canonical query, as every Alibaba Cloud signature scheme defines them."""

from __future__ import annotations

import functools
from typing import Iterable, Mapping, Optional
from urllib.parse import quote

# Only A-Z a-z 0-9 - _ . ~ stay as they are; space is %20, '*' is %2A, '~' stays.
_SAFE = "-_.~"


@functools.lru_cache(maxsize=4096)  # names, actions, regions and template ids repeat on every request
def percent_encode(value: str) -> str:
    return quote(value, safe=_SAFE, encoding="utf-8")


def canonical_query(params: Mapping[str, Optional[str]], exclude: Iterable[str] = ()) -> str:
    """Sorted, percent-encoded ``k=v`` pairs; None values dropped, empty strings kept as ``k=``."""
    skip = frozenset(exclude)
    pairs = sorted(
        (percent_encode(str(k)), percent_encode(str(v))) for k, v in params.items() if v is not None and k not in skip
    )
    return "&".join(f"{k}={v}" for k, v in pairs)
