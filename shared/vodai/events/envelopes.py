"""Unwrapping every envelope a VOD event can arrive in, down to the VOD event bodies.

Shapes recognised (and nested, e.g. a CloudEvent whose message is itself base64):
- the raw body: HTTP callback / MNS queue message / MNS topic trigger STREAM (plain or base64)
- FC MNS topic trigger, JSON format (``TopicOwner``, ``Message``, ``MessageId`` ...)
- FC MNS topic trigger, STREAM format with attributes (``{"body": ..., "attrs": {...}}``)
- EventBridge-style CloudEvents, one or a list (``data.messageBody`` / ``data.MessageBody``)
- the FC HTTP trigger event v1 (``version``, ``rawPath``, ``body``, ``isBase64Encoded``)
- a backfill: ``{"VodaiBackfill": {"Region": ..., "ListedBy": ...}, "Event": {...}}``, the upload
  event VOD would have sent for a media ``vodai backfill`` listed (the region is the listing's);
  its records are marked ``backfill`` however it arrives, e.g. as the body of a queue message that
  ``vodai backfill --to-queue`` sent, inside the queue trigger's CloudEvent (whose shape they take)
- a JSON list of any of these

A piece that cannot be read becomes a :class:`Record` carrying an :class:`EventError`, so one bad
record in a batch never hides the others.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, List, Optional

from ..exceptions import EventError
from ..jsontext import too_deep

# The envelope of an event made by ``vodai backfill`` (vodai.backfill), and its shape's name.
BACKFILL_MARK = "VodaiBackfill"
BACKFILL = "backfill"
# How deep envelopes may nest (a list of CloudEvents holding base64 bodies is 3).
MAX_DEPTH = 4
# How deep one record's JSON may nest: VOD's events with their envelopes are under 10 levels; far
# deeper input would exhaust the interpreter's recursion limit in whatever walks it next.
MAX_JSON_DEPTH = 64
_ARN_REGION = re.compile(r"^acs:[a-z0-9-]+:([a-z]{2,3}-[a-z0-9-]+):")


@dataclass(slots=True)
class Record:
    """One event found in a delivery, with what its envelope said about it."""

    index: int
    shape: str
    body: Optional[dict] = None
    error: Optional[EventError] = None
    region: Optional[str] = None
    region_source: Optional[str] = None
    source_id: Optional[str] = None
    # Made by ``vodai backfill``: inside a backfill envelope, at any depth (the shape is the outermost
    # envelope's, e.g. ``cloudevent`` for a backfill sent through the events queue).
    backfill: bool = False
    # Carried by an HTTP request (an FC HTTP-trigger envelope, as the callback hands events on):
    # its body is unsigned, so its media is checked with VOD before it costs money.
    http_callback: bool = False
    # The envelope piece this record came from, for dead letters and replay (too long for a repr).
    raw: Any = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class _Hints:
    """What the envelopes around an event said about it, outermost first."""

    region: Optional[str] = None
    region_source: Optional[str] = None
    source_id: Optional[str] = None

    def with_region(self, region: Any, source: str) -> _Hints:
        # The outermost envelope that names a region wins: it is the delivery's own claim. Only
        # text names one (a number or an object there says nothing about the region).
        if self.region or not region or not isinstance(region, str):
            return self
        return _Hints(region, source, self.source_id)

    def with_id(self, source_id: Any) -> _Hints:
        if self.source_id or not source_id or not isinstance(source_id, (str, int)) or isinstance(source_id, bool):
            return self
        return _Hints(self.region, self.region_source, str(source_id))


def unwrap(raw: bytes, *, region: Optional[str] = None, region_source: str = "query",
           max_bytes: Optional[int] = None) -> List[Record]:
    """Every event in ``raw`` (the bytes a function receives), in order; never raises.

    Parameters
    ----------
    raw : bytes
        The delivery. Text is taken as its UTF-8 bytes; anything else (FC hands a handler bytes)
        becomes one record with an error.
    region : str, optional
        A region the delivery carries outside the bytes, e.g. the ``region`` query parameter of an
        HTTP callback URL.
    region_source : str
        Where ``region`` came from, for the outcome.
    max_bytes : int, optional
        A larger delivery becomes one record with an error, without being parsed.

    Returns
    -------
    list of Record
        One per event found; a piece that cannot be read is a record carrying its error.
    """
    hints = _Hints().with_region(region, region_source)
    records: List[Record] = []
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    elif isinstance(raw, memoryview):
        raw = raw.tobytes()
    elif raw is not None and not isinstance(raw, (bytes, bytearray)):
        error = EventError("event", f"expected the delivery's bytes, got {type(raw).__name__}")
        return [Record(0, "raw", error=error, raw=None)]
    if max_bytes is not None and raw is not None and len(raw) > max_bytes:
        error = EventError("delivery", f"{len(raw)} bytes, over the limit of {max_bytes} "
                                       "(VODAI_MAX_DELIVERY_BYTES); not parsed")
        return [Record(0, "raw", error=error, raw=raw)]
    if not raw or not raw.strip():
        return [Record(0, "raw", error=EventError("body", "empty"), raw=raw)]
    try:
        value = _decode_text(raw, "body")
    except EventError as exc:
        # The original bytes, untouched: a dead letter keeps exactly what was delivered.
        return [Record(0, "raw", error=exc, raw=raw)]
    try:
        _walk(value, "raw", hints, records, depth=0)
    except RecursionError:
        return [Record(0, "raw", error=EventError("body", "nested too deep"), raw=raw)]
    return records


def _decode_text(data: Any, field_name: str) -> Any:
    """JSON text, or base64 of JSON text (whether a queue body is base64 is unconfirmed)."""
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise EventError(field_name, "not UTF-8 text") from None
    elif isinstance(data, str):
        text = data
    else:
        raise EventError(field_name, f"expected JSON text, got {type(data).__name__}")
    try:
        return json.loads(text)
    except RecursionError:
        raise EventError(field_name, "JSON nested too deep") from None
    except ValueError:
        pass
    compact = "".join(text.split())
    try:
        decoded = base64.b64decode(compact, validate=True)
        if not compact:
            raise ValueError
        return json.loads(decoded.decode("utf-8"))
    except RecursionError:
        raise EventError(field_name, "JSON nested too deep") from None
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise EventError(field_name, "neither JSON nor base64 of JSON") from None


def _has_surrogate(text: str) -> bool:
    # UTF-8 encodes every code point but the surrogates (U+D800-U+DFFF): a failed encode finds
    # one. Not a regular expression: compiling a class of 2,048 code points allocates a 64 KiB
    # map and costs about 0.2 ms and 0.2 MB of a cold start, for text that is nearly always ASCII.
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lone_surrogate_at(value: Any) -> Optional[str]:
    """Where ``value`` (parsed JSON) holds a lone surrogate (JSON's ``\\ud800`` escapes allow
    one; UTF-8 cannot encode it, so no log line or message could carry it): a key path, or None."""
    stack: List[tuple] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = key if isinstance(key, str) and not _has_surrogate(key) else "(a key)"
                if name == "(a key)":
                    return f"{path}.{name}" if path else name
                stack.append((child, f"{path}.{name}" if path else name))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def _get(obj: dict, *names: str) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _walk(value: Any, shape: str, hints: _Hints, out: List[Record], depth: int) -> None:
    if depth > MAX_DEPTH:
        out.append(Record(len(out), shape, error=EventError("body", "envelopes nested too deep"), raw=value))
        return
    if isinstance(value, list):
        if not value:
            out.append(Record(len(out), "list", error=EventError("body", "empty list"), raw=value))
        for item in value:
            _walk(item, "list" if shape == "raw" else shape, hints, out, depth + 1)
        return
    if not isinstance(value, dict):
        out.append(
            Record(len(out), shape, error=EventError("body", f"expected a JSON object or list, got {type(value).__name__}"), raw=value)
        )
        return

    if too_deep(value, MAX_JSON_DEPTH):
        error = EventError("body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        out.append(Record(len(out), shape, error=error, raw=value))
    elif "EventType" in value:
        out.append(Record(len(out), shape, body=value, region=hints.region, region_source=hints.region_source,
                          source_id=hints.source_id, raw=value))
    elif BACKFILL_MARK in value and "Event" in value:
        mark = value.get(BACKFILL_MARK)
        region = mark.get("Region") if isinstance(mark, dict) else None
        start = len(out)
        _inner(value, "Event", BACKFILL, hints.with_region(region if isinstance(region, str) else None, BACKFILL),
               out, depth)
        for record in out[start:]:
            record.backfill = True
    elif "specversion" in value and "data" in value:
        _cloudevent(value, hints, out, depth)
    elif value.get("version") == "v1" and ("rawPath" in value or "requestContext" in value):
        _http_trigger(value, hints, out, depth)
    elif "TopicOwner" in value or ("Message" in value and "MessageId" in value):
        _inner(value, "Message", "mns-topic-json", hints.with_id(value.get("MessageId")), out, depth)
    elif "body" in value and "attrs" in value:
        _inner(value, "body", "mns-topic-stream-attrs", hints, out, depth)
    else:
        out.append(Record(len(out), shape, error=EventError("EventType", "missing: not a VOD event nor a known envelope"), raw=value))


def _inner(envelope: dict, key: str, shape: str, hints: _Hints, out: List[Record], depth: int, field_name: Optional[str] = None) -> None:
    """Decode the message an envelope carries under ``key`` and walk it."""
    field_name = field_name or key
    payload = envelope.get(key)
    try:
        if payload is None or payload == "":
            raise EventError(field_name, "missing: the envelope carries no message")
        inner = payload if isinstance(payload, (dict, list)) else _decode_text(payload, field_name)
    except EventError as exc:
        out.append(Record(len(out), shape, error=exc, region=hints.region, region_source=hints.region_source,
                          source_id=hints.source_id, raw=envelope))
        return
    start = len(out)
    _walk(inner, shape, hints, out, depth + 1)
    # Records keep the whole envelope as their raw form, so a replay sees what was delivered.
    for record in out[start:]:
        record.shape = shape
        record.raw = envelope


def _cloudevent(event: dict, hints: _Hints, out: List[Record], depth: int) -> None:
    region = event.get("aliyunregionid")
    hints = hints.with_region(region, "cloudevent.aliyunregionid")
    subject = event.get("subject") or event.get("source")
    match = _ARN_REGION.match(str(subject or ""))
    if match:
        hints = hints.with_region(match.group(1), "cloudevent.subject")
    data = event.get("data")
    if isinstance(data, str):
        try:
            data = _decode_text(data, "data")
        except EventError as exc:
            out.append(Record(len(out), "cloudevent", error=exc, raw=event))
            return
    if not isinstance(data, dict):
        out.append(Record(len(out), "cloudevent", error=EventError("data", "expected an object"), raw=event))
        return
    if "EventType" in data:  # a VOD body carried directly as data
        _walk(data, "cloudevent", hints.with_id(event.get("id")), out, depth + 1)
        return
    key = next((k for k in ("messageBody", "MessageBody", "body") if k in data), "messageBody")
    hints = hints.with_id(_get(data, "messageId", "MessageId") or event.get("id"))
    start = len(out)
    _inner(data, key, "cloudevent", hints, out, depth, field_name=f"data.{key}")
    for record in out[start:]:
        record.raw = event


def _http_trigger(event: dict, hints: _Hints, out: List[Record], depth: int) -> None:
    query = event.get("queryParameters") or {}
    region = next((v for k, v in query.items() if k.lower() == "region"), None) if isinstance(query, dict) else None
    if isinstance(region, list):
        region = region[0] if region else None
    context = event.get("requestContext")
    hints = hints.with_region(region, "query").with_id(context.get("requestId") if isinstance(context, dict) else None)
    body = event.get("body")
    if event.get("isBase64Encoded") and isinstance(body, str):
        try:
            body = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            error = EventError("body (base64)", "isBase64Encoded is true but body is not base64")
            out.append(Record(len(out), "http-trigger", error=error, raw=event))
            return
    start = len(out)
    _inner({"body": body}, "body", "http-trigger", hints, out, depth)
    for record in out[start:]:
        record.raw = event
        record.http_callback = True
