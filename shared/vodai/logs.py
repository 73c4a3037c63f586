"""One JSON line per event outcome, in a form FC's log service indexes (the whole line is JSON).

The lines go to the ``vodai.outcome`` logger, which writes bare JSON to stderr (no prefix that
would break the log service's JSON index) and does not propagate. Nothing secret is ever in an
outcome: errors are redacted where they are made.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator, Optional, Tuple

from . import jsontext
from .timestamps import utc_now_millis

OUTCOME_LOGGER = "vodai.outcome"


class _JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (as logging.lastResort does), not to the
    stream that happened to be there when the logger was first set up."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


_handler: Optional[_StderrHandler] = None
_logger: Optional[logging.Logger] = None


def outcome_logger() -> logging.Logger:
    global _handler, _logger
    if _logger is not None:
        return _logger  # getLogger takes logging's module lock: once per event was measurable
    logger = logging.getLogger(OUTCOME_LOGGER)
    if not getattr(logger, "_vodai_configured", False):
        _handler = _StderrHandler()
        _handler.setFormatter(_JsonLineFormatter())
        logger.addHandler(_handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger._vodai_configured = True  # type: ignore[attr-defined]
    _logger = logger
    return logger


@contextlib.contextmanager
def outcome_lines(quiet: bool) -> Iterator[None]:
    """With ``quiet``, no outcome lines are written (not even built) until the block ends; the
    logger's state is restored afterwards (``vodai replay -q``, ``vodai jobs``)."""
    logger = outcome_logger()
    before = logger.disabled
    logger.disabled = before or quiet
    try:
        yield
    finally:
        logger.disabled = before


# The line's own fields, before the outcome's (PascalCase, so never the same names).
_HEAD = '{"time":"%s","level":"%s","logger":"' + OUTCOME_LOGGER + '","fcRequestId":%s,'


def log_outcome(outcome, fc_request_id: Optional[str]) -> Optional[Tuple[dict, str]]:
    """Write the outcome's line. Returns the outcome's fields and their JSON text (the line holds
    that same text), for the invocation's answer to reuse; None when the logger is disabled."""
    level = logging.INFO if outcome.status != "failed" else logging.WARNING
    logger = outcome_logger()
    if not logger.isEnabledFor(level):
        return None  # disabled (``-q``): not even built
    fields = outcome.to_dict()
    text = jsontext.compact(fields)
    head = _HEAD % (utc_now_millis(), logging.getLevelName(level), jsontext.compact(fc_request_id))
    # The same text as encoding {time, level, logger, fcRequestId, **fields}, the outcome encoded once.
    line = head + text[1:] if len(text) > 2 else head[:-1] + "}"
    handler = _handler
    assert handler is not None  # set up with the logger above
    if (logger.handlers == [handler] and not logger.filters and not handler.filters and handler.level <= level
            and handler.lock is not None):
        # The default set-up: write exactly what the handler would, without building a LogRecord
        # (which collects thread, process and caller details, and cost more than signing a request).
        with handler.lock:
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()
    else:
        logger.log(level, line)
    return fields, text
