"""Passing an HTTP request through to an HTTP function (a WSGI callable), as FC 2.0 does.

The function gets the original method, path, query, headers and body, plus the FC context in
``environ["fc.context"]``. FC's own ``x-fc-*`` headers are removed from the environ: they carry
the STS credentials, which the function reads from the context, never from a header it might echo.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from werkzeug.datastructures import EnvironHeaders

from . import errors, logs
from .headers import FC_HEADERS, context_from_headers
from .registry import HTTP, Functions

_FC_ENVIRON_KEYS = frozenset("HTTP_" + h.upper().replace("-", "_") for h in FC_HEADERS)


def function_environ(environ: dict, context: Any) -> dict:
    inner = {k: v for k, v in environ.items() if k not in _FC_ENVIRON_KEYS}
    inner["fc.context"] = context
    return inner


def call_wsgi(app: Callable, environ: dict) -> tuple:
    """Run a WSGI app to completion: (status, headers, body). Buffered, as FC answers in one piece."""
    captured: dict = {}
    chunks: list = []

    def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
        if exc_info is not None and captured:
            raise exc_info[1].with_traceback(exc_info[2])
        captured["status"], captured["headers"] = status, list(headers)
        return chunks.append  # PEP 3333's write(): its data precedes the iterable's

    result: Iterable[bytes] = app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if "status" not in captured:
        raise RuntimeError("the HTTP function returned without calling start_response")
    return captured["status"], captured["headers"], b"".join(chunks)


def invoke_http(functions: Functions, name: Optional[str], environ: dict, start_response: Callable) -> Iterable[bytes]:
    context = context_from_headers(dict(EnvironHeaders(environ)), name)
    with logs.invocation("Invoke", context.request_id):
        try:
            function = functions.load(name)
            if function.spec.kind != HTTP:
                raise TypeError(f"{function.spec.name} is an event function: POST the event to /invoke")
            status, headers, body = call_wsgi(function.handler, function_environ(environ, context))
        except Exception as exc:  # the function's failure, reported in FC's shape
            return errors.failure(exc, context)(environ, start_response)
    start_response(status, headers)
    return [body]
