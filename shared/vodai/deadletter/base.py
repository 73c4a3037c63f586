"""Dead letters: events that can never succeed as delivered, kept with their reason for a person to
find, fix and replay (``vodai replay`` reads them back).

A dead letter is one JSON object:

    {"DeadLetterId": "…", "Time": "2026-11-21T19:50:00Z", "Reason": "…", "Function": "on_upload",
     "RequestId": "<FC request id>", "Outcome": {…the event's outcome…},
     "Event": <the delivered piece: a JSON value, or text>, "EventEncoding": "json" | "text" | "base64"}

``Event`` is the envelope piece the record came from (one CloudEvent of a batch, the whole MNS
notification, the raw body), so a replay sees what was delivered. Signatures, tokens and secrets
are scrubbed from it before it is written.
"""

from __future__ import annotations

import abc
import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Iterable, Optional

from ..redaction import MASK, redact

# Keys whose values never leave vodai, wherever they appear in an event (case-insensitive).
SECRET_KEYS = frozenset(
    {
        "x-vod-signature",
        "x-vod-timestamp",  # with the URL it lets anyone replay a captured callback inside the window
        "authorization",
        "x-fc-access-key-secret",
        "x-fc-security-token",
        "x-acs-security-token",
        "securitytoken",
        "security-token",
        "signature",
        "accesskeysecret",
        "access_key_secret",
    }
)


def scrub(value: Any) -> Any:
    """``value`` with the values of secret-bearing keys masked, at any depth."""
    if isinstance(value, dict):
        return {k: (MASK if str(k).lower() in SECRET_KEYS else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def encode_event(raw: Any) -> tuple:
    """(Event, EventEncoding) for the piece a record came from."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(raw)).decode("ascii"), "base64"
        try:
            return scrub(json.loads(text)), "json"
        except ValueError:
            return text, "text"
    if isinstance(raw, str):
        return raw, "text"
    return scrub(raw), "json"


def decode_event(event: Any, encoding: str) -> bytes:
    """The bytes to replay for a dead letter's Event."""
    if encoding == "base64":
        return base64.b64decode(event)
    if encoding == "text":
        return str(event).encode("utf-8")
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event that could not be handled, kept with its reason for a person to find and replay."""

    reason: str
    outcome: dict
    event: Any
    event_encoding: str = "json"
    request_id: Optional[str] = None
    function: str = "on_upload"
    # A new letter gets a new id and the time it was written.
    dead_letter_id: str = field(default_factory=_new_id)
    time: str = field(default_factory=_now_text)

    @classmethod
    def of(cls, *, reason: str, outcome: dict, raw: Any, request_id: Optional[str]) -> DeadLetter:
        event, encoding = encode_event(raw)
        return cls(reason, outcome, event, encoding, request_id)

    def to_json(self, secrets: Iterable[str] = ()) -> str:
        doc = {
            "DeadLetterId": self.dead_letter_id,
            "Time": self.time,
            "Reason": self.reason,
            "Function": self.function,
            "RequestId": self.request_id,
            "Outcome": self.outcome,
            "Event": self.event,
            "EventEncoding": self.event_encoding,
        }
        return redact(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), secrets)

    @staticmethod
    def is_dead_letter(doc: Any) -> bool:
        return isinstance(doc, dict) and "DeadLetterId" in doc and "Event" in doc


class DeadLetterSink(abc.ABC):
    """Where dead letters go. ``write`` raises DeadLetterError when the letter is not safely kept."""

    @abc.abstractmethod
    def write(self, letter: DeadLetter, secrets: Iterable[str] = ()) -> str:
        """Keep ``letter``; returns where it went (a path or a message id)."""

    def describe(self) -> str:
        return type(self).__name__
