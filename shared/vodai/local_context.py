"""A context shaped like FC's, made locally: for local invoke, the runtime shim and tests.

Kept apart from :mod:`vodai.context` (which only reads a context): FC passes its own, so the
handler's cold start need not create these four dataclasses (1.5 ms on Python 3.10).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class LocalCredentials:
    """``context.credentials`` of a local invocation (FC's shape)."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)


@dataclass
class LocalFunction:
    """``context.function`` of a local invocation (FC's shape)."""

    name: str = "on_upload"
    handler: str = "index.handler"
    memory: int = 512
    timeout: int = 60
    initializer: Optional[str] = None
    initialization_timeout: Optional[int] = None


@dataclass
class LocalService:
    """``context.service`` of a local invocation (FC's shape)."""

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
