"""Errors of the dead-letter sink."""

from __future__ import annotations

from ..exceptions import ConfigError, VodaiError


class DeadLetterError(VodaiError):
    """A dead letter could not be written: the event must not be acknowledged (retryable)."""

    retryable = True


class SinkUrlError(ConfigError):
    def __init__(self, reason: str) -> None:
        super().__init__("VODAI_DEAD_LETTERS", reason)
