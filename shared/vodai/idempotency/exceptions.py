"""Errors of the idempotency store."""

from __future__ import annotations

from ..exceptions import ConfigError, VodaiError


class IdempotencyError(VodaiError):
    """The store could not be read or written; retryable (the platform redelivers)."""

    retryable = True


class StoreUrlError(ConfigError):
    """``VODAI_IDEMPOTENCY_STORE`` is not a URL vodai can open."""

    def __init__(self, reason: str) -> None:
        super().__init__("VODAI_IDEMPOTENCY_STORE", reason)
