"""Dead letters: events that can never succeed as delivered, kept with their reason for a person to
find, fix and replay (``vodai replay`` reads them back).

A dead letter is one JSON object:

    {"DeadLetterId": "…", "Time": "2026-11-21T19:50:00Z", "Reason": "…", "Function": "on_upload",
     "RequestId": "<FC request id>", "Outcome": {…the event's outcome…},
     "Event": <the delivered piece: a JSON value, or text>, "EventEncoding": "json" | "text" | "base64"}

``Event`` is the envelope piece the record came from (one CloudEvent of a batch, the whole MNS
notification, the raw body), so a replay sees what was delivered. Signatures, tokens and secrets
are scrubbed from it before it is written.

A piece too large to keep (over ``EVENT_KEPT_MAX`` characters, e.g. a delivery refused for its
size) or nested too deep to walk is kept as ``"EventEncoding": "excerpt"``: its first
``EXCERPT_CHARS`` characters as ``Event``, with ``EventBytes`` and ``EventSha256`` of the whole, so
a letter stays small and the original can still be recognised; such a letter cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Iterable, Optional

from ..jsontext import too_deep
from ..redaction import MASK, redact
from .sink import DeadLetterSink as DeadLetterSink  # defined in .sink since the split, still importable here

# Larger events are kept as an excerpt: VOD's events are under 2 KiB even in their envelopes.
EVENT_KEPT_MAX = 32 * 1024
EXCERPT_CHARS = 4096
EXCERPT = "excerpt"
# Deeper events are kept as an excerpt (scrub and json.dumps recurse).
EVENT_MAX_DEPTH = 64

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


_SECRET_PAIR = re.compile(
    r'("(?:' + "|".join(re.escape(k) for k in sorted(SECRET_KEYS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE
)


def excerpt(data: Any) -> tuple:
    """(Event, EventEncoding, EventBytes, EventSha256) keeping only the start of ``data`` (bytes or
    text), its secret-bearing JSON fields masked, with the size and digest of the whole."""
    whole = bytes(data) if isinstance(data, (bytes, bytearray)) else str(data).encode("utf-8", "surrogatepass")
    head = whole[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]
    head = _SECRET_PAIR.sub(lambda m: f'{m.group(1)}"{MASK}"', head)
    return head, EXCERPT, len(whole), hashlib.sha256(whole).hexdigest()


def encode_event(raw: Any) -> tuple:
    """(Event, EventEncoding, EventBytes, EventSha256) for the piece a record came from; the last
    two are None unless the piece is kept only as an excerpt."""
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > EVENT_KEPT_MAX:
            return excerpt(raw)
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(raw)).decode("ascii"), "base64", None, None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return text, "text", None, None
        return (scrub(value), "json", None, None) if not too_deep(value, EVENT_MAX_DEPTH) else excerpt(raw)
    if isinstance(raw, str):
        return (raw, "text", None, None) if len(raw) <= EVENT_KEPT_MAX else excerpt(raw)
    if too_deep(raw, EVENT_MAX_DEPTH):
        return f"(JSON nested deeper than {EVENT_MAX_DEPTH} levels: not kept)", EXCERPT, None, None
    value = scrub(raw)
    text = json.dumps(value, ensure_ascii=False)
    return (value, "json", None, None) if len(text) <= EVENT_KEPT_MAX else excerpt(text)


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
    # Set when ``event`` is only an excerpt: the size and sha256 of the whole piece.
    event_bytes: Optional[int] = None
    event_sha256: Optional[str] = None
    # A new letter gets a new id and the time it was written.
    dead_letter_id: str = field(default_factory=_new_id)
    time: str = field(default_factory=_now_text)

    @classmethod
    def of(cls, *, reason: str, outcome: dict, raw: Any, request_id: Optional[str]) -> DeadLetter:
        event, encoding, size, digest = encode_event(raw)
        return cls(reason, outcome, event, encoding, request_id, event_bytes=size, event_sha256=digest)

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
        if self.event_sha256 is not None:
            doc["EventBytes"], doc["EventSha256"] = self.event_bytes, self.event_sha256
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (JSON's \\ud800 escapes allow one) has no UTF-8 form: escape it as
            # JSON does, so the letter is still the delivered text.
            text = json.dumps(doc, ensure_ascii=True, separators=(",", ":"))
        return redact(text, secrets)

    @staticmethod
    def is_dead_letter(doc: Any) -> bool:
        return isinstance(doc, dict) and "DeadLetterId" in doc and "Event" in doc
