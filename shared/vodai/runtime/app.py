"""The shim's WSGI app: FC's custom-runtime HTTP contract in front of any function in ``functions/``.

Routing, as FC does it: the ``x-fc-control-path`` header (``/invoke``, ``/initialize``,
``/http-invoke``) decides when present, except that on an HTTP function a ``/invoke`` or
``/initialize`` header on any other path is the client's own, not FC's (FC sends its control
calls on their own path), and is ignored: the request goes to the function as sent. Without it (a local client), ``POST /invoke`` and
``POST /initialize`` are the control calls and every other path of an HTTP function is passed
through to it unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Union

from flask import Flask, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException

from . import errors
from .headers import FUNCTION_NAME, context_from_headers
from .invoke import initialize, invoke_event
from .registry import HTTP, FunctionNotFound, Functions
from .wsgi import invoke_http

INVOKE, INITIALIZE, HTTP_INVOKE = "/invoke", "/initialize", "/http-invoke"


def create_app(function_name: Optional[str] = None, functions_dir: Union[str, Path, None] = None) -> Flask:
    """The shim for ``function_name`` (a registry name); with ``None``, each request names its
    function in ``x-fc-function-name``. ``functions_dir`` defaults to the ``functions/`` folder
    next to the ``vodai`` package (code root when deployed, the repository locally)."""
    functions = Functions(Path(functions_dir) if functions_dir is not None else None)
    if function_name is not None:
        function_name = functions.spec(function_name).name  # a typo fails at start, not per call

    def resolve(headers: Mapping[str, str]) -> str:
        named = next((value for name, value in headers.items() if name.lower() == FUNCTION_NAME), None)
        return functions.spec(function_name or named).name

    app = Flask("vodai.runtime")
    app.extensions["vodai.functions"] = functions

    @app.post(INVOKE)
    def invoke_view():
        try:
            name = resolve(dict(request.headers))
        except FunctionNotFound as exc:
            return errors.failure(exc)
        return invoke_event(functions, name, request.get_data(), context_from_headers(dict(request.headers), name))

    @app.post(INITIALIZE)
    def initialize_view():
        try:
            name = resolve(dict(request.headers))
        except FunctionNotFound as exc:
            return errors.failure(exc)
        return initialize(functions, name, context_from_headers(dict(request.headers), name))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # Unknown paths and methods too answer in FC's error shape, with x-fc-status.
        body: Dict[str, Any] = {"errorMessage": exc.description, "errorType": type(exc).__name__, "stackTrace": []}
        return errors.failure_response(body, status=exc.code or 500)

    # Flask's documented way to put WSGI middleware in front of the app.
    app.wsgi_app = _Router(app.wsgi_app, functions, resolve)  # type: ignore[method-assign]
    return app


def initialize_now(app: Flask, function_name: str) -> None:
    """Run ``function_name``'s /initialize in this process before serving: its settings are
    checked and its initializer run, once (FC's later /initialize then has nothing to do).

    Parameters
    ----------
    app
        A shim made by :func:`create_app`.
    function_name
        The registry name of the function it serves.

    Raises
    ------
    Exception
        What /initialize would answer as a failure, e.g. :class:`~vodai.exceptions.ConfigError`.
    """
    functions: Functions = app.extensions["vodai.functions"]
    functions.load(function_name).initialize(context_from_headers({}, function_name))


class _Router:
    """Sends HTTP-function requests straight to the function (no Flask routing, which would
    redirect '//a' or add OPTIONS answers) and control calls to the Flask views."""

    def __init__(self, flask_app: Callable, functions: Functions, resolve: Callable[[Mapping[str, str]], str]):
        self.flask_app, self.functions, self.resolve = flask_app, functions, resolve

    def __call__(self, environ: dict, start_response: Callable):
        control = environ.get("HTTP_X_FC_CONTROL_PATH") or None
        path = environ.get("PATH_INFO") or "/"
        if control in (INVOKE, INITIALIZE) and path != control and self._kind(environ) == HTTP:
            # A client's header on an HTTP request (it re-ran /initialize unauthenticated): ignored.
            environ.pop("HTTP_X_FC_CONTROL_PATH", None)
            control = None
        if control in (INVOKE, INITIALIZE):
            environ["PATH_INFO"] = control  # FC's control header wins over the request path
            return self.flask_app(environ, start_response)
        if control == HTTP_INVOKE or (control is None and path not in (INVOKE, INITIALIZE)):
            try:
                name = self.resolve(dict(EnvironHeaders(environ)))
                kind = self.functions.spec(name).kind
            except FunctionNotFound:
                name, kind = None, None
            if control == HTTP_INVOKE or kind == HTTP:
                return invoke_http(self.functions, name, environ, start_response)
        return self.flask_app(environ, start_response)

    def _kind(self, environ: dict) -> Optional[str]:
        try:
            return self.functions.spec(self.resolve(dict(EnvironHeaders(environ)))).kind
        except FunctionNotFound:
            return None
