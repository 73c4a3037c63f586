"""Reading the FC invocation context in both its FC 2.0 and FC 3.0 shapes, and a local one.

FC 2.0 passes ``credentials``, ``function``, ``service``, ``region``, ``account_id``,
``request_id``; FC 3.0 drops ``credentials`` and ``service``. Values may arrive as strings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
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


@dataclass
class LocalCredentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)


@dataclass
class LocalFunction:
    name: str = "on_upload"
    handler: str = "index.handler"
    memory: int = 512
    timeout: int = 60
    initializer: Optional[str] = None
    initialization_timeout: Optional[int] = None


@dataclass
class LocalService:
    name: str = "vodai"
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass
class LocalContext:
    """A context shaped like FC's, for local invoke, the runtime shim and tests.

    It offers the FC 2.0 attributes (``credentials``, ``service``) and the FC 3.0 ones
    (``log_project``/``log_store`` on the context itself); pass ``credentials=None`` to act as FC 3.0.
    """

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "cn-shanghai"
    account_id: str = "1234567890123456"
    credentials: Optional[LocalCredentials] = None
    function: LocalFunction = field(default_factory=LocalFunction)
    service: Optional[LocalService] = field(default_factory=LocalService)
    retry_count: int = 0
    log_project: str = ""
    log_store: str = ""

    def getLogger(self):  # noqa: N802 - FC's name
        import logging

        return logging.getLogger("vodai")
