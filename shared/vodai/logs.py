"""One JSON line per event outcome, in a form FC's log service indexes (the whole line is JSON).

The lines go to the ``vodai.outcome`` logger, which writes bare JSON to stderr (no prefix that
would break the log service's JSON index) and does not propagate. Nothing secret is ever in an
outcome: errors are redacted where they are made.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Optional

OUTCOME_LOGGER = "vodai.outcome"


class _JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (as logging.lastResort does), not to the
    stream that happened to be there when the logger was first set up."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def outcome_logger() -> logging.Logger:
    logger = logging.getLogger(OUTCOME_LOGGER)
    if not getattr(logger, "_vodai_configured", False):
        handler = _StderrHandler()
        handler.setFormatter(_JsonLineFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger._vodai_configured = True  # type: ignore[attr-defined]
    return logger


def log_outcome(outcome, fc_request_id: Optional[str]) -> None:
    doc = {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": "INFO" if outcome.status != "failed" else "WARNING",
        "logger": OUTCOME_LOGGER,
        "fcRequestId": fc_request_id,
        **outcome.to_dict(),
    }
    outcome_logger().log(logging.INFO if outcome.status != "failed" else logging.WARNING,
                         json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
