"""Reading the FC invocation context in both its FC 2.0 and FC 3.0 shapes.

FC 2.0 passes ``credentials``, ``function``, ``service``, ``region``, ``account_id``,
``request_id``; FC 3.0 drops ``credentials`` and ``service``. Values may arrive as strings.
A context made locally (local invoke, the runtime shim, tests) is :mod:`vodai.local_context`.
"""

from __future__ import annotations

from typing import Any, Optional

DEFAULT_TIMEOUT_SECONDS = 60.0


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def region(context: Any) -> Optional[str]:
    return _get(context, "region") or None


def request_id(context: Any) -> Optional[str]:
    return _get(context, "request_id") or _get(context, "requestId") or None


def account_id(context: Any) -> Optional[str]:
    return _get(context, "account_id") or _get(context, "accountId") or None


def function_timeout(context: Any) -> float:
    """The function's timeout in seconds (FC may send it as a string); a default when absent."""
    raw = _get(_get(context, "function"), "timeout")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_SECONDS
    return value if value > 0 else DEFAULT_TIMEOUT_SECONDS
