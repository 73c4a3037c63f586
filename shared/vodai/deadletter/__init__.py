"""Dead letters: what cannot succeed is kept, with its reason, where a person can find and replay it."""

from typing import TYPE_CHECKING, Any

from ..exceptions import DeadLetterError, SinkUrlError
from .factory import default_directory, open_sink
from .sink import DeadLetterSink

if TYPE_CHECKING:
    from .base import DeadLetter, decode_event, encode_event, scrub

__all__ = ["default_directory", "DeadLetter", "DeadLetterError", "DeadLetterSink", "SinkUrlError",
           "decode_event", "encode_event", "open_sink", "scrub"]

# The letter and its encoding (.base) load on first use: every invocation opens its sink, but only
# an event that is dead-lettered needs a letter (12.5 M instructions, about 2 ms, of a cold start
# on Python 3.12).
_FROM_BASE = frozenset({"DeadLetter", "decode_event", "encode_event", "scrub"})


def __getattr__(name: str) -> Any:
    if name in _FROM_BASE:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
