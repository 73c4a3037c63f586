"""Compact JSON text, as every payload vodai writes uses it.

``json.dumps`` with any keyword argument builds a new JSONEncoder on every call; these are built
once (several per event on the warm path). No circular-reference check: the values are
flat data vodai builds itself.
"""

from __future__ import annotations

import json
from typing import Any

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_COMPACT_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, check_circular=False)


def compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
    return _COMPACT.encode(value)


def compact_sorted(value: Any) -> str:
    """:func:`compact` with the keys sorted (byte-stable text, for what is signed or compared)."""
    return _COMPACT_SORTED.encode(value)
