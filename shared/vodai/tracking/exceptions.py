"""Errors of the tracking store."""

from __future__ import annotations

from ..exceptions import ConfigError, VodaiError


class TrackingError(VodaiError):
    """The tracking store could not be read or written; retryable."""

    retryable = True


class TrackingUrlError(ConfigError):
    """``VODAI_TRACKING_STORE`` (or the idempotency store URL it defaults to) is not a URL vodai can open."""

    def __init__(self, reason: str) -> None:
        super().__init__("VODAI_TRACKING_STORE", reason)
