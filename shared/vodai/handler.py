"""The FC entry point behind ``functions/on_upload/index.py``: bytes in, JSON summary out.

Settings and the route table are read once per instance (cold start) and reused while warm;
credentials are read per invocation, since FC rotates the role's STS credentials.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import requests

from . import context as fc_context
from . import credentials
from .config import Settings
from .exceptions import InvocationFailed
from .pipeline import Decided, InvocationResult, build, dispatch
from .routing.rules import RouteTable, load_table

_settings: Optional[Settings] = None
_routes: Optional[RouteTable] = None
# The last invocation's clients, reused while a warm instance's credentials and settings are the
# same (FC rotates STS credentials: new ones make new clients). (key, Dependencies) or None.
_last_deps: Optional[tuple] = None


def _config() -> tuple:
    global _settings, _routes
    if _settings is None:
        settings = Settings.from_env()
        _routes = load_table(settings.routes)
        _settings = settings
    return _settings, _routes


def initializer(context: Any = None) -> None:
    """FC's initializer: read the settings and the route table now, so that an instance with
    bad ones refuses to start (raises :class:`~vodai.exceptions.ConfigError`)."""
    _config()


def reset() -> None:
    """Forget the settings read at cold start (tests and the runtime shim's /initialize)."""
    global _settings, _routes, _last_deps
    _settings = _routes = _last_deps = None


def run(
    event: Any,
    context: Any,
    *,
    settings: Settings,
    routes: RouteTable,
    session: Optional[requests.Session] = None,
    decided: Optional[Sequence[Decided]] = None,
) -> InvocationResult:
    """One invocation with explicit settings (and, for local runs, an HTTP session). ``decided``:
    the event already decided by ``decide_all`` (replay), see ``dispatch``."""
    global _last_deps
    creds = credentials.resolve(context)
    key = (id(settings), id(routes), id(session), creds, fc_context.account_id(context), fc_context.region(context))
    cached = _last_deps
    if cached is not None and cached[0] == key:
        deps = cached[1]
    else:
        deps = build(settings, context=context, credentials=creds, routes=routes, session=session)
        _last_deps = (key, deps)
    return dispatch(event, deps, context=context, decided=decided)  # logs one JSON line per outcome


def handle(event: Any, context: Any) -> str:
    settings, routes = _config()
    result = run(event, context, settings=settings, routes=routes)
    if result.failed:
        raise InvocationFailed(result.to_json())
    return result.to_json()
