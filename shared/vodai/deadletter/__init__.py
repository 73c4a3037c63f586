"""Dead letters: what cannot succeed is kept, with its reason, where a person can find and replay it."""

from ..exceptions import DeadLetterError, SinkUrlError
from .base import DeadLetter, DeadLetterSink, decode_event, encode_event, scrub
from .factory import default_directory, open_sink

__all__ = ["default_directory", "DeadLetter", "DeadLetterError", "DeadLetterSink", "SinkUrlError",
           "decode_event", "encode_event", "open_sink", "scrub"]
