"""Sample VOD events, byte for byte as a Function Compute function would receive them.

This module is the *independent producer* of events: it never imports the project's parser,
so that the parser can be tested against it. It is stdlib-only and fully deterministic (ids,
sizes and times are derived from the inputs by hashing, never drawn at random), and it is
the one implementation behind three things:

* the saved fixtures in ``events/`` (``python -m vodai.events.samples events/`` regenerates
  them, together with ``events/expected.json``);
* the ``vodai generate-event`` command (see :func:`generate`);
* the tests.

Two layers:

* :func:`body` builds a VOD event body (a ``dict``) exactly as VOD sends it in an HTTP
  callback or an MNS queue message (:func:`other_body` for non-upload events).
* :func:`wrap` (or ``SHAPES[name]``) puts one body, or a list of bodies, into a delivery
  envelope and returns the exact bytes of the function's ``event``.

Facts and shapes follow Alibaba Cloud's public documentation: VOD's event notifications (event
types and their fields), MNS and EventBridge message formats, and Function Compute's trigger events.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

__all__ = [
    "ACCOUNT_ID",
    "APP_ID",
    "AUTH_KEY",
    "CALLBACK_DOMAIN",
    "CALLBACK_PATH",
    "MEDIA_TYPES",
    "REGIONS",
    "ROUTES",
    "DOCUMENTED_SHAPES",
    "SHAPES",
    "TOLERATED_SHAPES",
    "Sample",
    "body",
    "callback_url",
    "expected_outcome",
    "generate",
    "other_body",
    "sample_id",
    "samples",
    "tolerated_samples",
    "wrap",
    "write_samples",
]

# --------------------------------------------------------------------------- constants

ACCOUNT_ID = "1234567890123456"
"""Alibaba Cloud account id used in every envelope (MNS TopicOwner, CloudEvent, HTTP trigger)."""

APP_ID = "app-1000000"
"""The default VOD application id (as in the documented ImageUploadComplete sample)."""

AUTH_KEY = "VodaiSampleKey2024"
"""The callback auth key the http-trigger samples are signed with (letters and digits, <= 32)."""

CALLBACK_DOMAIN = "vodai.example.com"
CALLBACK_PATH = "/vod/callback"

QUEUE_NAME = "vod-events"
TOPIC_NAME = "vod-events"
SUBSCRIPTION_NAME = "vodai-fc"
EVENT_BUS_NAME = "vodai-mns-queue-source"

EVENT_DATETIME = datetime(2024, 4, 10, 1, 37, 14, 627000, tzinfo=UTC)
"""When the sample uploads completed (the body's EventTime)."""

PUBLISHED_AT = "2024-04-10T01:37:15.123Z"
"""When the envelope was published / delivered (MNS PublishTime, CloudEvent time, HTTP time)."""

MEDIA_TYPES = ("video", "audio", "image", "attached")
REGIONS = ("cn-shanghai", "cn-beijing", "ap-southeast-1")
"""The regions of the fixture matrix."""

_EVENT_TYPES = {
    "video": "FileUploadComplete",
    "audio": "FileUploadComplete",
    "image": "ImageUploadComplete",
    "attached": "AttachedMediaUploadComplete",
}
_ID_FIELDS = {
    "video": "VideoId",
    "audio": "VideoId",
    "image": "ImageId",
    "attached": "AttachedMediaId",
}
_UPLOAD_EVENT_TYPES = frozenset(_EVENT_TYPES.values())

ROUTES: Mapping[tuple, str] = {
    ("video", "cn-beijing"): "SubmitAIImageJob",
    ("video", "cn-shanghai"): "SubmitAIImageJob",
    ("image", "ap-southeast-1"): "SubmitAIImageAuditJob",
}
"""The routing rule that expected.json applies: (media type, region) -> VOD action."""

_DEFAULT_EXTEND = {"source": "vodai-sample"}
_DEFAULT_ATTRS_EXTEND = {"origin": "vod"}

EventBody = Union[Dict[str, Any], List[Any], str, int, float, bool, None]


# --------------------------------------------------------------------------- helpers


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def _uuid_like(hex32: str) -> str:
    h = hex32[:32]
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _compact(obj: Any) -> str:
    """JSON the way VOD and MNS send it: no spaces, UTF-8 kept."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _body_text(event_body: EventBody) -> str:
    """The text of a body: a ``str`` is taken as already-serialised text, verbatim."""
    if isinstance(event_body, str):
        return event_body
    return _compact(event_body)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _pretty(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _parse_published(value: str) -> datetime:
    # Stdlib on Python 3.10: fromisoformat() does not take a trailing "Z" before 3.11.
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"published_at: expected 'YYYY-MM-DDTHH:MM:SS[.fff]Z', got {value!r}")


def _epoch_ms(dt: datetime) -> int:
    return int(round(dt.timestamp() * 1000))


def _check_media_type(media_type: str) -> None:
    if media_type not in _EVENT_TYPES:
        raise ValueError(f"media_type must be one of {', '.join(MEDIA_TYPES)}; got {media_type!r}")


# --------------------------------------------------------------------------- bodies


def sample_id(media_type: str, region: str, n: int = 0) -> str:
    """A stable 32-hex media id for the ``n``-th sample of ``media_type`` in ``region``."""
    return _digest("media-id", media_type, region, n)[:32]


def _bucket_host(region: str) -> str:
    return f"outin-{_digest('bucket', region)[:32]}.oss-{region}.aliyuncs.com"


def _file_url(media_type: str, region: str, media_id: str) -> str:
    host = _bucket_host(region)
    if media_type == "video":
        return f"http://{host}/sv/{media_id}/{media_id}.mp4"
    if media_type == "audio":
        return f"http://{host}/sv/{media_id}/{media_id}.mp3"
    if media_type == "image":
        return f"https://{host}/image/default/{media_id.upper()}.jpg"
    return f"https://{host}/attached/{media_id}.png"


def _format_event_time(value: Union[str, datetime, None], media_type: str) -> str:
    if isinstance(value, str):
        return value  # verbatim: lets a test send any text, garbage included
    dt = EVENT_DATETIME if value is None else value
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    if media_type == "image":
        # Image and AI events: a colon before the milliseconds.
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + f":{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _default_size(media_type: str, region: str, media_id: str) -> int:
    base = {"video": 1_000_000, "audio": 100_000, "image": 50_000, "attached": 5_000}[media_type]
    return base + int(_digest("size", media_type, region, media_id)[:8], 16) % (base * 9)


def body(
    media_type: str,
    *,
    region: str,
    media_id: Optional[str] = None,
    event_time: Union[str, datetime, None] = None,
    extend: Union[Mapping[str, Any], str, None] = None,
    size: Union[int, str, None] = None,
    status: str = "success",
    app_id: str = APP_ID,
    numbers_as_strings: bool = False,
) -> Dict[str, Any]:
    """A VOD upload-complete event body, as VOD sends it.

    ``media_type``: "video" / "audio" -> FileUploadComplete (``VideoId``, ``FileUrl``, ``Extend``);
    "image" -> ImageUploadComplete (``ImageId``, ``FileURL``, ``AppId``); "attached" ->
    AttachedMediaUploadComplete (``AttachedMediaId``, ``FileURL``). ``region`` is the OSS region
    of the storage host in the URL.

    ``event_time``: a ``datetime`` is formatted in the style of the event type
    (``2024-04-10T01:37:14Z``, or ``2024-04-10T01:37:14:627Z`` for images); a ``str`` is used
    verbatim. ``extend``: a mapping is JSON-encoded into the ``Extend`` string, a ``str`` is used
    verbatim; by default video/audio carry a small JSON ``Extend`` and image/attached none (it is
    not documented for them). ``size``: an ``int``, or a ``str`` used verbatim. With
    ``numbers_as_strings`` numbers are sent as strings (``"Size": "1439213"``).
    """
    _check_media_type(media_type)
    if media_id is None:
        media_id = sample_id(media_type, region)
    if size is None:
        size = _default_size(media_type, region, media_id)
    if numbers_as_strings and isinstance(size, int):
        size = str(size)
    when = _format_event_time(event_time, media_type)
    url = _file_url(media_type, region, media_id)
    extend_text: Optional[str]
    if extend is None:
        extend_text = _compact(_DEFAULT_EXTEND) if media_type in ("video", "audio") else None
    elif isinstance(extend, str):
        extend_text = extend
    else:
        extend_text = _compact(dict(extend))

    out: Dict[str, Any]
    if media_type in ("video", "audio"):
        # Key order as in the documented sample.
        out = {
            "Status": status,
            "EventTime": when,
            "EventType": "FileUploadComplete",
            "VideoId": media_id,
            "Size": size,
            "FileUrl": url,
        }
    elif media_type == "image":
        out = {
            "Status": status,
            "FileURL": url,
            "AppId": app_id,
            "EventType": "ImageUploadComplete",
            "EventTime": when,
            "Size": size,
            "ImageId": media_id,
        }
    else:
        out = {
            "Status": status,
            "EventTime": when,
            "EventType": "AttachedMediaUploadComplete",
            "AttachedMediaId": media_id,
            "Size": size,
            "FileURL": url,
        }
    if extend_text is not None:
        out["Extend"] = extend_text
    return out


FUTURE_EVENT_TYPE = "HologramUploadComplete"
"""A made-up event type: must be recognised as unknown and skipped, not taken for an upload."""


def other_body(
    event_type: str,
    *,
    media_id: Optional[str] = None,
    event_time: Union[str, datetime, None] = None,
) -> Dict[str, Any]:
    """A body of a non-upload event that the function must recognise and skip.

    Known: ``VideoAnalysisComplete`` (``VideoId``), ``AIMediaAuditComplete`` (``JobId``,
    ``MediaId``); any other name gives a made-up event with a ``<Name>Id``-less generic shape.
    None of them carries a storage URL, so none names a region.
    """
    if event_type == "VideoAnalysisComplete":
        vid = media_id or sample_id("video", "analysis")
        return {
            "Status": "success",
            "VideoId": vid,
            "Size": 1439213,
            "Width": "1920",
            "Height": "1080",
            "Duration": "12.48",
            "Bitrate": "922",
            "Fps": "25",
            "EventType": "VideoAnalysisComplete",
            "EventTime": _format_event_time(event_time, "video"),
        }
    if event_type == "AIMediaAuditComplete":
        mid = media_id or sample_id("image", "audit")
        return {
            "EventTime": _format_event_time(event_time, "image"),
            "EventType": "AIMediaAuditComplete",
            "JobId": _digest("job", mid)[:32],
            "MediaId": mid,
            "Status": "success",
            "Code": "0",
            "Message": "OK",
            "Data": {"Suggestion": "pass", "AbnormalModules": "", "Label": "normal"},
        }
    return {
        "Status": "success",
        "EventTime": _format_event_time(event_time, "image"),
        "EventType": event_type,
        "HologramId": media_id or _digest("future", event_type)[:32],
        "Size": 2048,
    }


def expected_outcome(
    event_type: str,
    media_id: Optional[str],
    media_type: Optional[str],
    region: Optional[str],
) -> Dict[str, Any]:
    """What a correct parser + router concludes for one event (the ROUTES rule applied)."""
    action = None
    if event_type in _UPLOAD_EVENT_TYPES and media_type is not None and region is not None:
        action = ROUTES.get((media_type, region))
    return {
        "event_type": event_type,
        "media_id": media_id,
        "media_type": media_type if event_type in _UPLOAD_EVENT_TYPES else None,
        "region": region,
        "action": action,
        "skipped": action is None,
    }


# --------------------------------------------------------------------------- envelopes


@dataclass(frozen=True)
class _Options:
    region: Optional[str] = None
    message_id: Optional[str] = None
    request_id: Optional[str] = None
    account_id: str = ACCOUNT_ID
    published_at: str = PUBLISHED_AT
    queue_name: str = QUEUE_NAME
    topic_name: str = TOPIC_NAME
    auth_key: Optional[str] = AUTH_KEY
    attrs: Optional[Mapping[str, str]] = None
    items: Sequence[str] = ("raw", "mns-topic-json", "cloudevent")
    index: int = 0


def _message_id(text: str, o: _Options, salt: str) -> str:
    if o.message_id is not None:
        return o.message_id if o.index == 0 else f"{o.message_id}-{o.index}"
    return _digest("message-id", salt, text, o.index)[:32].upper()


def _request_id(text: str, o: _Options, salt: str) -> str:
    if o.request_id is not None:
        return o.request_id if o.index == 0 else f"{o.request_id}-{o.index}"
    return _digest("request-id", salt, text, o.index)[:24].upper()


def _single(event_body: EventBody, shape: str) -> EventBody:
    if isinstance(event_body, list):
        raise TypeError(f"shape {shape!r} carries one body; use 'cloudevent-batch' or 'list' for several")
    return event_body


def _env_raw(event_body: EventBody, o: _Options) -> Any:
    # Any JSON value (a str body is sent verbatim, so even non-JSON text can be produced).
    return event_body


def _env_raw_base64(event_body: EventBody, o: _Options) -> Any:
    return _RawText(_b64(_body_text(event_body)))


def _env_mns_topic_json(event_body: EventBody, o: _Options) -> Any:
    text = _body_text(_single(event_body, "mns-topic-json"))
    return {
        "TopicOwner": o.account_id,
        "Message": text,
        "Subscriber": o.account_id,
        "PublishTime": _epoch_ms(_parse_published(o.published_at)),
        "SubscriptionName": SUBSCRIPTION_NAME,
        "MessageMD5": hashlib.md5(text.encode("utf-8")).hexdigest().upper(),
        "TopicName": o.topic_name,
        "MessageId": _message_id(text, o, "mns-topic"),
    }


def _env_mns_topic_stream_attrs(event_body: EventBody, o: _Options) -> Any:
    text = _body_text(_single(event_body, "mns-topic-stream-attrs"))
    attrs = dict(o.attrs) if o.attrs is not None else {"Extend": _compact(_DEFAULT_ATTRS_EXTEND)}
    return {"body": text, "attrs": attrs}


def _cloudevent(event_body: EventBody, o: _Options, *, pascal: bool) -> Dict[str, Any]:
    text = _body_text(_single(event_body, "cloudevent"))
    salt = "cloudevent-pascal" if pascal else "cloudevent"
    message_id = _message_id(text, o, salt)
    request_id = _request_id(text, o, salt)
    if pascal:
        data = {"RequestId": request_id, "MessageId": message_id, "MessageBody": _b64(text)}
    else:
        data = {"requestId": request_id, "messageId": message_id, "messageBody": text}
    out: Dict[str, Any] = {
        "id": _uuid_like(_digest("cloudevent-id", salt, text, o.index)),
        "source": "acs:mns",  # as EventBridge's MNS-queue source documents it
        "specversion": "1.0",
        "type": "mns:Queue:SendMessage",
    }
    if o.region is not None:
        out["subject"] = f"acs:mns:{o.region}:{o.account_id}:queues/{o.queue_name}"
    out["time"] = o.published_at
    out["datacontenttype"] = "application/json;charset=utf-8"
    out["data"] = data
    out["aliyunaccountid"] = o.account_id
    if o.region is not None:
        out["aliyunregionid"] = o.region
    out["aliyuneventbusname"] = EVENT_BUS_NAME
    out["aliyunpublishtime"] = o.published_at
    return out


def _env_cloudevent(event_body: EventBody, o: _Options) -> Any:
    return _cloudevent(event_body, o, pascal=False)


def _env_cloudevent_pascal(event_body: EventBody, o: _Options) -> Any:
    return _cloudevent(event_body, o, pascal=True)


def _as_list(event_body: EventBody) -> List[Any]:
    return list(event_body) if isinstance(event_body, list) else [event_body]


def _replace(o: _Options, **changes: Any) -> _Options:
    values = {f: getattr(o, f) for f in o.__dataclass_fields__}
    values.update(changes)
    return _Options(**values)


def _env_cloudevent_batch(event_body: EventBody, o: _Options) -> Any:
    return [_cloudevent(b, _replace(o, index=i), pascal=False) for i, b in enumerate(_as_list(event_body))]


def callback_url(region: Optional[str] = None) -> str:
    """The callback URL the http-trigger samples are signed for (VOD signs the configured URL)."""
    url = f"https://{CALLBACK_DOMAIN}{CALLBACK_PATH}"
    return f"{url}?region={region}" if region is not None else url


def _env_http_trigger(event_body: EventBody, o: _Options) -> Any:
    text = _body_text(_single(event_body, "http-trigger"))
    published = _parse_published(o.published_at)
    timestamp = str(int(published.timestamp()))
    headers = {"Content-Type": "application/json", "X-VOD-TIMESTAMP": timestamp}
    if o.auth_key is not None:
        signed = f"{callback_url(o.region)}|{timestamp}|{o.auth_key}"
        headers["X-VOD-SIGNATURE"] = hashlib.md5(signed.encode("utf-8")).hexdigest()
    query = {"region": o.region} if o.region is not None else {}
    h = _digest("fc-request", text, o.index)
    request_id = o.request_id or f"1-{h[:8]}-{h[8:16]}-{h[16:28]}"
    return {
        "version": "v1",
        "rawPath": CALLBACK_PATH,
        "body": _b64(text),
        "isBase64Encoded": True,
        "headers": headers,
        "queryParameters": query,
        "requestContext": {
            "accountId": o.account_id,
            "domainName": CALLBACK_DOMAIN,
            "http": {
                "method": "POST",
                "path": CALLBACK_PATH,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "vod-callback-sample/1.0",
            },
            "requestId": request_id,
            "time": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timeEpoch": str(_epoch_ms(published)),
        },
    }


_LISTABLE = ("raw", "mns-topic-json", "mns-topic-stream-attrs", "cloudevent", "cloudevent-pascal")


def _env_list(event_body: EventBody, o: _Options) -> Any:
    if not o.items:
        raise ValueError("items: at least one inner shape is needed")
    for name in o.items:
        if name not in _LISTABLE:
            raise ValueError(f"items: {name!r} cannot be an element of a list (allowed: {', '.join(_LISTABLE)})")
    out = []
    for i, b in enumerate(_as_list(event_body)):
        name = o.items[i % len(o.items)]
        out.append(_ENVELOPES[name](b, _replace(o, index=i)))
    return out


class _RawText(str):
    """An envelope that is text, not JSON (base64): written as is, no newline added."""


_ENVELOPES: Dict[str, Callable[[EventBody, _Options], Any]] = {
    "raw": _env_raw,
    "raw-base64": _env_raw_base64,
    "mns-topic-json": _env_mns_topic_json,
    "mns-topic-stream-attrs": _env_mns_topic_stream_attrs,
    "cloudevent": _env_cloudevent,
    "cloudevent-pascal": _env_cloudevent_pascal,
    "cloudevent-batch": _env_cloudevent_batch,
    "http-trigger": _env_http_trigger,
    "list": _env_list,
}

REGION_HINT_SHAPES = frozenset({"cloudevent", "cloudevent-pascal", "cloudevent-batch", "http-trigger", "list"})
"""Shapes in which the ``region`` argument appears (``list``: in its cloudevent elements)."""


def _serialise(obj: Any) -> bytes:
    if isinstance(obj, _RawText):
        return str(obj).encode("ascii")
    if isinstance(obj, str):
        return obj.encode("utf-8")  # a raw str body: verbatim text (may be non-JSON on purpose)
    return _pretty(obj)


def _make_builder(shape: str) -> Callable[..., bytes]:
    def build(event_body: EventBody, **options: Any) -> bytes:
        return wrap(event_body, shape, **options)

    build.__name__ = build.__qualname__ = "build_" + shape.replace("-", "_")
    build.__doc__ = f"Wrap a body into the {shape!r} delivery shape; see wrap()."
    return build


SHAPES: Mapping[str, Callable[..., bytes]] = {name: _make_builder(name) for name in _ENVELOPES}
"""Every delivery shape, in a fixed order: name -> builder(event_body, **options) -> bytes."""

TOLERATED_SHAPES = ("mns-topic-stream-attrs", "cloudevent-pascal")
"""Shapes no documentation shows (a STREAM ``{"body", "attrs"}`` message; a CloudEvent with
PascalCase ``data.MessageBody``). The parser tolerates them, so their fixtures live with the
tests (``tests/fixtures/tolerated/``, see :func:`tolerated_samples`), never under ``events/``."""

DOCUMENTED_SHAPES = tuple(name for name in SHAPES if name not in TOLERATED_SHAPES)
"""The shapes of ``events/``: those the VOD, MNS, EventBridge and FC documentation show."""


def wrap(
    event_body: EventBody,
    shape: str,
    *,
    region: Optional[str] = None,
    message_id: Optional[str] = None,
    request_id: Optional[str] = None,
    account_id: str = ACCOUNT_ID,
    published_at: str = PUBLISHED_AT,
    queue_name: str = QUEUE_NAME,
    topic_name: str = TOPIC_NAME,
    auth_key: Optional[str] = AUTH_KEY,
    attrs: Optional[Mapping[str, str]] = None,
    items: Sequence[str] = ("raw", "mns-topic-json", "cloudevent"),
) -> bytes:
    """The exact bytes the function receives when ``event_body`` arrives in ``shape``.

    ``event_body``: a body dict (or any JSON value); a ``str`` is taken as the body's text,
    verbatim (to produce non-JSON messages); a list gives several events for
    ``cloudevent-batch`` and ``list`` (a dict there gives a one-element list).

    ``region``: the region hint of shapes that carry one (CloudEvent ``subject`` ARN and
    ``aliyunregionid``, http-trigger ``region`` query parameter); ``None`` omits those fields.
    ``message_id`` / ``request_id``: default to values derived from the body. ``published_at``:
    delivery time (``YYYY-MM-DDTHH:MM:SS.fffZ``). ``auth_key``: http-trigger signing key
    (``None``: no ``X-VOD-SIGNATURE``); the signed URL is :func:`callback_url`. ``attrs``: the
    message attributes of ``mns-topic-stream-attrs``. ``items``: the inner shapes of ``list``,
    cycled over the bodies.

    JSON envelopes are pretty-printed (indent 2, trailing newline); ``raw-base64`` is the bare
    base64 text; nested bodies (``Message``, ``messageBody``, ``body``) are compact JSON.
    """
    if shape not in _ENVELOPES:
        raise ValueError(f"shape must be one of {', '.join(_ENVELOPES)}; got {shape!r}")
    options = _Options(
        region=region,
        message_id=message_id,
        request_id=request_id,
        account_id=account_id,
        published_at=published_at,
        queue_name=queue_name,
        topic_name=topic_name,
        auth_key=auth_key,
        attrs=attrs,
        items=tuple(items),
    )
    return _serialise(_ENVELOPES[shape](event_body, options))


def _count_for(shape: str) -> int:
    return {"cloudevent-batch": 2, "list": 3}.get(shape, 1)


def generate(
    shape: str,
    media_type: str,
    *,
    region: str,
    region_hint: bool = True,
    **body_options: Any,
) -> bytes:
    """One ready-made sample: ``media_type`` stored in ``region``, delivered in ``shape``.

    ``cloudevent-batch`` holds two events and ``list`` three (distinct media ids, same region).
    With ``region_hint`` false the envelope carries no region (the OSS host is the only hint).
    ``body_options`` go to :func:`body` (a ``media_id`` is used for the first event only).
    """
    return wrap(_bodies_for(shape, media_type, region, body_options), shape,
                region=region if region_hint else None)


def _bodies_for(shape: str, media_type: str, region: str, body_options: Mapping[str, Any]) -> EventBody:
    n = _count_for(shape)
    bodies = []
    for i in range(n):
        opts = dict(body_options)
        if i > 0 or "media_id" not in opts:
            opts["media_id"] = sample_id(media_type, region, i)
        bodies.append(body(media_type, region=region, **opts))
    return bodies if shape in ("cloudevent-batch", "list") else bodies[0]


# --------------------------------------------------------------------------- the fixture set


@dataclass(frozen=True)
class Sample:
    """One fixture file: its path under ``events/``, its bytes, and what it must yield."""

    path: str
    data: bytes
    expected: List[Dict[str, Any]] = field(default_factory=list)


def _upload_expectations(shape: str, media_type: str, region: str, body_options: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Computed from the inputs (not by reading the bytes back)."""
    out = []
    for i in range(_count_for(shape)):
        media_id = body_options.get("media_id") if i == 0 and "media_id" in body_options else sample_id(media_type, region, i)
        out.append(expected_outcome(_EVENT_TYPES[media_type], media_id, media_type, region))
    return out


def _upload_sample(path: str, shape: str, media_type: str, region: str, *, region_hint: bool = True, **body_options: Any) -> Sample:
    return Sample(
        path,
        generate(shape, media_type, region=region, region_hint=region_hint, **body_options),
        _upload_expectations(shape, media_type, region, body_options),
    )


def _error(path: str, data: bytes, error_field: str) -> Sample:
    return Sample(path, data, [{"error_field": error_field}])


def _matrix(shapes: Sequence[str]) -> List[Sample]:
    """Every shape x {video, image} x the three regions; region hints where the shape has them."""
    return [
        _upload_sample(f"{shape}/{media_type}-{region}.json", shape, media_type, region)
        for shape in shapes
        for media_type in ("video", "image")
        for region in REGIONS
    ]


def tolerated_samples() -> List[Sample]:
    """The fixtures of ``tests/fixtures/tolerated/``: :data:`TOLERATED_SHAPES`, not documented."""
    return _matrix(TOLERATED_SHAPES)


def samples() -> List[Sample]:
    """Every fixture of ``events/`` (without expected.json), in a fixed order."""
    out: List[Sample] = _matrix(DOCUMENTED_SHAPES)

    # Envelopes that could carry a region but do not: the OSS host is the only hint.
    out.append(_upload_sample("cloudevent/image-ap-southeast-1-no-region-hint.json",
                              "cloudevent", "image", "ap-southeast-1", region_hint=False))
    out.append(_upload_sample("http-trigger/video-cn-beijing-no-region-hint.json",
                              "http-trigger", "video", "cn-beijing", region_hint=False))

    # Upload events that must be skipped, and body variants.
    out.append(_upload_sample("raw/audio-cn-shanghai.json", "raw", "audio", "cn-shanghai"))
    out.append(_upload_sample("raw/attached-cn-shanghai.json", "raw", "attached", "cn-shanghai"))
    out.append(_upload_sample("raw/video-eu-central-1.json", "raw", "video", "eu-central-1"))
    out.append(_upload_sample("raw/video-numbers-as-strings-cn-shanghai.json", "raw", "video", "cn-shanghai",
                              numbers_as_strings=True))
    # Extend that is not JSON is kept as a raw string: still a valid event.
    out.append(_upload_sample("raw/video-extend-not-json-cn-shanghai.json", "raw", "video", "cn-shanghai",
                              extend="plain text, not JSON"))

    # Other event types: recognised and skipped. No URL, no envelope hint: no region.
    analysis = other_body("VideoAnalysisComplete")
    out.append(Sample("other/video-analysis-complete.json", wrap(analysis, "raw"),
                      [expected_outcome("VideoAnalysisComplete", analysis["VideoId"], None, None)]))
    audit = other_body("AIMediaAuditComplete")
    out.append(Sample("other/ai-media-audit-complete.json", wrap(audit, "raw"),
                      [expected_outcome("AIMediaAuditComplete", audit["MediaId"], None, None)]))
    future = other_body(FUTURE_EVENT_TYPE)
    out.append(Sample("other/future-event-type.json", wrap(future, "raw"),
                      [expected_outcome(FUTURE_EVENT_TYPE, None, None, None)]))

    # Malformed inputs: each must give an error naming the field.
    out.append(_error("malformed/not-json.json", b"this is not JSON at all\n", "body"))
    out.append(_error("malformed/empty.json", b"", "body"))
    out.append(_error("malformed/not-an-object.json", wrap(42, "raw"), "body"))

    no_type = body("video", region="cn-shanghai")
    del no_type["EventType"]
    out.append(_error("malformed/missing-eventtype.json", wrap(no_type, "raw"), "EventType"))

    no_id = body("video", region="cn-shanghai")
    del no_id["VideoId"]
    out.append(_error("malformed/missing-videoid.json", wrap(no_id, "raw"), "VideoId"))

    out.append(_error("malformed/size-not-a-number.json",
                      wrap(body("video", region="cn-shanghai", size="big"), "raw"), "Size"))

    out.append(_error("malformed/mns-topic-json-message-not-json.json",
                      wrap("this is not JSON {", "mns-topic-json"), "Message"))

    ce = _cloudevent(body("video", region="cn-shanghai"), _Options(region="cn-shanghai"), pascal=False)
    del ce["data"]["messageBody"]
    out.append(_error("malformed/cloudevent-no-message-body.json", _pretty(ce), "data.messageBody"))

    http = _env_http_trigger(body("video", region="cn-shanghai"), _Options(region="cn-shanghai"))
    http["body"] = "%%% not base64 !!!"
    out.append(_error("malformed/http-trigger-bad-base64.json", _pretty(http), "body (base64)"))

    out.append(_error("malformed/bad-eventtime.json",
                      wrap(body("video", region="cn-shanghai", event_time="yesterday at noon"), "raw"),
                      "EventTime"))
    return out


def expected_json(all_samples: Sequence[Sample]) -> bytes:
    """events/expected.json: {path under events/: [one entry per contained event]}, sorted by path."""
    return _pretty({s.path: s.expected for s in sorted(all_samples, key=lambda s: s.path)})


MANAGED_DIRS = tuple(SHAPES) + ("other", "malformed")


def write_samples(dest: Union[str, Path], all_samples: Optional[Sequence[Sample]] = None) -> List[Path]:
    """Write ``all_samples`` (default: :func:`samples`) and expected.json under ``dest``; remove
    stale ``*.json`` in managed folders, and the folders left empty."""
    root = Path(dest)
    all_samples = samples() if all_samples is None else list(all_samples)
    written: List[Path] = []
    wanted = {s.path for s in all_samples}
    for s in all_samples:
        p = root / s.path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(s.data)
        written.append(p)
    for sub in MANAGED_DIRS:
        folder = root / sub
        if folder.is_dir():
            for p in folder.glob("*.json"):
                if p.relative_to(root).as_posix() not in wanted:
                    p.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()
    exp = root / "expected.json"
    exp.write_bytes(expected_json(all_samples))
    written.append(exp)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    tolerated = "--tolerated" in args
    args = [a for a in args if a != "--tolerated"]
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m vodai.events.samples [--tolerated] [DEST]   (default: events;\n"
              "       --tolerated writes the undocumented shapes, for tests/fixtures/tolerated)", file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    dest = Path(args[0] if args else ("tests/fixtures/tolerated" if tolerated else "events"))
    written = write_samples(dest, tolerated_samples() if tolerated else None)
    print(f"wrote {len(written)} files under {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
