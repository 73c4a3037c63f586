"""Compact JSON text, as every payload vodai writes uses it.

``json.dumps`` with any keyword argument builds a new JSONEncoder on every call; these are built
once (several per event on the warm path). No circular-reference check: the values are
flat data vodai builds itself.
"""

from __future__ import annotations

import json
from typing import Any, List, Tuple

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_COMPACT_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, check_circular=False)


def compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
    return _COMPACT.encode(value)


def compact_sorted(value: Any) -> str:
    """:func:`compact` with the keys sorted (byte-stable text, for what is signed or compared)."""
    return _COMPACT_SORTED.encode(value)


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests lists and objects more than ``limit`` levels deep.

    Iterative: a recursive walk would itself fail on the input it is meant to refuse.
    """
    stack: List[Tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
