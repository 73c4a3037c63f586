"""Experiment: the custom-runtime shim without Flask (and so without Werkzeug, Jinja2, Click,
itsdangerous, Blinker, MarkupSafe), to measure what Flask costs the first ``/invoke``.

A plain WSGI app for the event-function contract (``POST /invoke``, ``POST /initialize``, FC's
404 + ``x-fc-status`` failure shape), reusing the shim's Flask-free parts: the function
registry, the context from the ``x-fc-*`` headers and FC's log markers. Served by waitress like
``vodai.runtime.main``. HTTP functions (the pass-through) are left out: enough for
``on_upload``'s cold start, not a replacement as is.

The benchmark copies this file into a package folder and points that folder's ``bootstrap`` at
it (``exec "$PYTHON" -m lean_shim``); nothing in ``shared/`` changes.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from vodai.redaction import redact
from vodai.runtime import logs
from vodai.runtime.headers import context_from_headers
from vodai.runtime.registry import EVENT, FunctionNotFound, Functions


def _headers(environ: dict) -> dict:
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = environ["CONTENT_TYPE"]
    return out


def _failure(start_response, exc: BaseException, context=None, status: int = 404):
    creds = getattr(context, "credentials", None)
    secrets = [s for s in (getattr(creds, "access_key_secret", None), getattr(creds, "security_token", None)) if s]
    body = json.dumps({"errorMessage": redact(str(exc), secrets), "errorType": type(exc).__name__,
                       "stackTrace": [redact(line, secrets) for line in traceback.format_tb(exc.__traceback__)]})
    start_response(f"{status} Not Found" if status == 404 else f"{status} Error",
                   [("Content-Type", "application/json; charset=utf-8"), ("x-fc-status", str(status)),
                    ("x-fc-error-type", "UnhandledInvocationError")])
    return [body.encode("utf-8")]


def create_app(function_name):
    functions = Functions()

    def app(environ, start_response):
        headers = _headers(environ)
        path = headers.get("x-fc-control-path") or environ.get("PATH_INFO") or "/"
        try:
            name = functions.spec(function_name or headers.get("x-fc-function-name")).name
        except FunctionNotFound as exc:
            return _failure(start_response, exc)
        context = context_from_headers(headers, name)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        kind = "Initialize" if path == "/initialize" else "Invoke"
        with logs.invocation(kind, context.request_id):
            try:
                function = functions.load(name)
                if path == "/initialize":
                    function.initialize(context)
                    result = b""
                else:
                    if function.spec.kind != EVENT:
                        raise TypeError(f"{name} is an HTTP function")
                    result = function.handler(body, context)
                if isinstance(result, (bytes, bytearray)):
                    payload, ctype = bytes(result), "application/octet-stream"
                elif isinstance(result, str):
                    payload, ctype = result.encode("utf-8"), "text/plain; charset=utf-8"
                else:
                    payload, ctype = json.dumps(result, ensure_ascii=False).encode("utf-8"), "application/json"
            except Exception as exc:
                return _failure(start_response, exc, context)
        start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(payload)))])
        return [payload]

    return app


def main() -> int:
    from waitress import create_server

    name = os.environ.get("VODAI_FUNCTION") or None
    port = int(os.environ.get("FC_SERVER_PORT") or 9000)
    logs.install()
    server = create_server(create_app(name), host="0.0.0.0", port=port, threads=8)
    print(f"lean shim: {name} listening on {server.effective_port}", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
