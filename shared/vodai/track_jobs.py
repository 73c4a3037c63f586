"""The FC entry point behind ``functions/track_jobs/index.py`` (a Timer trigger): one poll per call.

A poll works through the pending jobs in pages of ``VODAI_TRACKING_POLL_LIMIT`` until each was
checked or ``VODAI_TRACKING_BUDGET`` (default: the function's timeout less a margin) is spent,
``VODAI_TRACKING_CONCURRENCY`` lookups at a time; its summary and its ``PollDone`` log line
report the backlog left (:mod:`vodai.tracking.poller`).

FC's timer sends ``{"triggerTime": "...", "triggerName": "...", "payload": "..."}``; the payload may
be JSON ``{"Limit": N}`` to check at most N pending jobs this time, and anything else in the event
is ignored. The result is the poll's JSON summary. The invocation fails (so FC's metrics and
alarms see it) only when jobs were due and not one VOD call worked: a configuration or service
problem. Anything less (one batch failing, a publish to retry) leaves the jobs pending for the
next tick, a minute later.

Settings are read once per instance (cold start, kept in :mod:`vodai.instance`); credentials per invocation.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import requests

from . import instance
from .config import Settings
from .exceptions import PollFailed
from .pipeline import build
from .tracking.poller import PollSummary, poll_once


def _config() -> Settings:
    return instance.current().once("settings", Settings.from_env)


def initializer(context: Any = None) -> None:
    """FC's initializer: read the settings now, so that an instance with bad ones refuses to
    start (raises :class:`~vodai.exceptions.ConfigError`)."""
    _config()


def reset() -> None:
    """Forget the settings read at cold start, and close the instance's clients and stores (tests
    and the runtime shim's /initialize): :func:`vodai.instance.reset`."""
    instance.reset()


def event_limit(event: Any) -> Optional[int]:
    """``Limit`` from the timer's payload (or the event itself), if it carries a positive one."""
    doc: Any = event
    for _ in range(3):  # bytes -> the trigger's JSON -> its payload string -> JSON
        if isinstance(doc, (bytes, bytearray)):
            doc = doc.decode("utf-8", "replace")
        if isinstance(doc, str):
            try:
                doc = json.loads(doc) if doc.strip() else {}
            except ValueError:
                return None
        if not isinstance(doc, dict):
            return None
        limit = doc.get("Limit", doc.get("limit"))
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            return limit
        doc = doc.get("payload", doc.get("Payload"))
        if doc is None:
            return None
    return None


def run(event: Any, context: Any, *, settings: Settings, session: Optional[requests.Session] = None) -> PollSummary:
    """One poll with explicit settings (and, for local runs, an HTTP session)."""
    deps = build(settings, context=context, session=session)
    return poll_once(deps, context=context, limit=event_limit(event))


def handle(event: Any, context: Any) -> str:
    summary = run(event, context, settings=_config())
    if summary.all_calls_failed:
        raise PollFailed(summary.to_json())
    return summary.to_json()
