"""The FC entry point behind ``functions/on_upload/index.py``: bytes in, JSON summary out.

Settings and the route table are read once per instance (cold start) and kept, with the last
invocation's clients, in the instance's container (:mod:`vodai.instance`); credentials are read
per invocation, since FC rotates the role's STS credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

import requests

from . import context as fc_context
from . import credentials, instance
from .config import Settings
from .exceptions import InvocationFailed
from .pipeline import Decided, InvocationResult, build, dispatch
from .routing.rules import RouteTable, load_table

if TYPE_CHECKING:
    from .deadletter import DeadLetterSink


def _read_config() -> tuple:
    settings = Settings.from_env()
    return settings, load_table(settings.routes)


def _config() -> tuple:
    return instance.current().once("on_upload.config", _read_config)


def initializer(context: Any = None) -> None:
    """FC's initializer: read the settings and the route table now, so that an instance with
    bad ones refuses to start (raises :class:`~vodai.exceptions.ConfigError`)."""
    _config()


def reset() -> None:
    """Forget the settings read at cold start, and close the instance's clients and stores (tests
    and the runtime shim's /initialize): :func:`vodai.instance.reset`."""
    instance.reset()


def run(
    event: Any,
    context: Any,
    *,
    settings: Settings,
    routes: RouteTable,
    session: Optional[requests.Session] = None,
    decided: Optional[Sequence[Decided]] = None,
    dead_letters: Optional[DeadLetterSink] = None,
) -> InvocationResult:
    """One invocation with explicit settings (and, for local runs, an HTTP session). ``decided``:
    the event already decided by ``decide_all`` (replay), see ``dispatch``; ``dead_letters``: a
    sink instead of ``VODAI_DEAD_LETTERS``'s (a replay draining that very queue)."""
    creds = credentials.resolve(context)
    # The last invocation's clients are reused while the credentials and settings are the same
    # (FC rotates STS credentials: new ones make new clients).
    key = (id(settings), id(routes), id(session), id(dead_letters), creds, fc_context.account_id(context),
           fc_context.region(context))
    here = instance.current()
    cached = here.get("on_upload.last_deps")
    if cached is not None and cached[0] == key:
        deps = cached[1]
    else:
        deps = build(settings, context=context, credentials=creds, routes=routes, session=session, dead_letters=dead_letters)
        here.put("on_upload.last_deps", (key, deps))
    return dispatch(event, deps, context=context, decided=decided)  # logs one JSON line per outcome


def handle(event: Any, context: Any) -> str:
    settings, routes = _config()
    result = run(event, context, settings=settings, routes=routes)
    if result.failed:
        raise InvocationFailed(result.to_json())
    return result.to_json()
