"""The message the callback hands off: the event in the FC HTTP-trigger v1 shape (pure).

``on_upload`` reads it with :func:`vodai.events.envelopes.unwrap` like any other delivery, so
the callback needs no message format of its own and the ``region`` query parameter of the
callback URL survives the hand-off as the ``http-trigger`` shape's region hint::

    {"version": "v1", "rawPath": "/vod/callback", "body": "<base64 of the callback body>",
     "isBase64Encoded": true, "queryParameters": {"region": "cn-shanghai"},
     "headers": {"Content-Type": "application/json"},
     "requestContext": {"requestId": "…", "domainName": "…", "time": "…", "timeEpoch": "…",
                        "http": {"method": "POST", "path": "/vod/callback", "sourceIp": "…"}}}

The body travels base64-encoded and byte for byte. The headers carry only ``Content-Type``:
``X-VOD-SIGNATURE`` and ``X-VOD-TIMESTAMP`` are left out (secret-adjacent, and stale by the time
the message is delivered; the callback has already verified them).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, Dict, Optional
from urllib.parse import parse_qsl

#: MNS MessageTag of a handed-off VOD event (an FC topic trigger can filter on it).
MESSAGE_TAG = "VodEvent"
#: MNS's largest message body, in bytes.
MNS_MAX_MESSAGE_BYTES = 65536


def query_parameters(query_string: str) -> dict:
    """A query string as FC's ``queryParameters``: one value as a string, repeated ones as a list."""
    params: dict = {}
    for name, value in parse_qsl(query_string or "", keep_blank_values=True):
        if name in params:
            existing = params[name]
            params[name] = existing + [value] if isinstance(existing, list) else [existing, value]
        else:
            params[name] = value
    return params


def http_trigger_event(
    body: bytes,
    *,
    path: str,
    query: dict,
    request_id: str,
    received_at: float,
    content_type: Optional[str] = None,
    domain: Optional[str] = None,
    source_ip: Optional[str] = None,
) -> dict:
    """The callback ``body`` wrapped as an FC HTTP-trigger v1 event."""
    when = datetime.fromtimestamp(received_at, tz=UTC)
    context: Dict[str, Any] = {
        "requestId": request_id,
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "timeEpoch": str(int(received_at * 1000)),
        "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1"},
    }
    if domain:
        context["domainName"] = domain
    if source_ip:
        context["http"]["sourceIp"] = source_ip
    return {
        "version": "v1",
        "rawPath": path,
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
        "queryParameters": dict(query),
        "headers": {"Content-Type": content_type or "application/json"},
        "requestContext": context,
    }


def message_text(event: dict) -> str:
    """The MNS message body: compact JSON (ASCII, so its byte size is its length)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=True)
