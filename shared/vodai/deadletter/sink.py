"""The interface every dead-letter sink implements, apart from the letter itself.

Its own module so that opening the configured sink, which every invocation does, loads neither
:class:`~vodai.deadletter.base.DeadLetter` nor the code that encodes and scrubs an event: an
event that is not dead-lettered needs none of it.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .base import DeadLetter


class DeadLetterSink(abc.ABC):
    """Where dead letters go. ``write`` raises DeadLetterError when the letter is not safely kept."""

    @abc.abstractmethod
    def write(self, letter: DeadLetter, secrets: Iterable[str] = ()) -> str:
        """Keep ``letter``; returns where it went (a path or a message id)."""

    def describe(self) -> str:
        return type(self).__name__
