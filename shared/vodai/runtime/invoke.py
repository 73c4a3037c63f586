"""Calling an event function (``POST /invoke``) and its initializer (``POST /initialize``)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from . import errors, logs
from .registry import EVENT, Functions

OCTET_STREAM = "application/octet-stream"


def encode_result(result: Any) -> Response:
    """As FC's Python runtime: str and bytes go out unchanged, anything else JSON-encoded."""
    if isinstance(result, (bytes, bytearray)):
        return Response(bytes(result), content_type=OCTET_STREAM)
    if isinstance(result, str):
        return Response(result, content_type="text/plain; charset=utf-8")
    return Response(json.dumps(result, ensure_ascii=False), content_type="application/json; charset=utf-8")


def invoke_event(functions: Functions, name: str, event: bytes, context: Any) -> Response:
    with logs.invocation("Invoke", context.request_id):
        try:
            function = functions.load(name)
            if function.spec.kind != EVENT:
                raise TypeError(f"{function.spec.name} is an HTTP function: send it HTTP requests, not /invoke")
            # Encoding inside the try: an unencodable result is the function's failure too.
            return encode_result(function.handler(event, context))
        except Exception as exc:  # the function's failure, reported in FC's shape
            return errors.failure(exc, context)


def initialize(functions: Functions, name: str, context: Any) -> Response:
    with logs.invocation("Initialize", context.request_id):
        try:
            functions.load(name).initialize(context)
        except Exception as exc:
            return errors.failure(exc, context)
    return Response(b"", content_type=OCTET_STREAM)
