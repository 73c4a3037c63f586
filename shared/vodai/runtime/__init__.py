"""The FC custom-runtime shim: FC's HTTP contract in front of the functions in ``functions/``.

    POST /invoke       raw event bytes -> handler(event, context) -> result (event functions)
    POST /initialize   initializer(context), once per instance, when the module has one
    any other request  passed through to an HTTP function (a WSGI callable), with
                       environ["fc.context"]; FC marks these with x-fc-control-path: /http-invoke

The context is rebuilt from the x-fc-* headers (:mod:`.headers`); a failed call answers 404 with
``x-fc-status: 404`` and FC's error body (:mod:`.errors`). ``vodai serve`` runs it locally and
``bootstrap`` -> :mod:`.main` on FC, both under waitress (:mod:`.server`).

Only the shim process imports Flask: this package's ``__init__`` and :mod:`.registry` do not,
and ``functions/*/index.py`` never import this package.
"""

from __future__ import annotations

from typing import Any

from .registry import EVENT, HTTP, REGISTRY, FunctionNotFound, FunctionSpec

__all__ = ["EVENT", "HTTP", "REGISTRY", "FunctionNotFound", "FunctionSpec", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
