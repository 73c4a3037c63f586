"""Handing a verified event to the events queue (or topic), within a hard time budget.

VOD counts a callback as delivered only on an HTTP 200 within 5 seconds (then retries twice,
1 s apart, then drops the event), so the callback does one small request, a SendMessage to
``VODAI_EVENTS_QUEUE`` (or a PublishMessage to ``VODAI_EVENTS_TOPIC``), and gives it at most
``VODAI_CALLBACK_BUDGET`` seconds (default 3.0), counted from the moment the request arrived:

- the connect and read timeouts of the request are derived from what is left of the budget;
- and the wait for the answer is itself bounded by the deadline (the publish runs in a worker
  thread), because socket timeouts alone do not bound DNS resolution or a slow trickle of bytes.

When the budget runs out the callback answers 503, so VOD tries again. A publish that
completes after that is harmless: ``on_upload`` is idempotent by job key.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, Protocol, Tuple

import requests

from .. import credentials as creds
from .. import instance
from ..clients.mns import MnsPublisher, mns_base_url
from ..config import Settings
from ..exceptions import ApiError, ConfigError, HandoffError, TransportError, VodaiError

#: Below this many seconds left, no publish is attempted.
MIN_ATTEMPT_SECONDS = 0.05


class Publisher(Protocol):
    def publish(self, topic: str, body: str, tag: Optional[str] = None) -> dict: ...

    def send_to_queue(self, queue: str, body: str) -> dict: ...


class Destination:
    """Where verified events go: an MNS queue (SendMessage) or topic (PublishMessage)."""

    def __init__(self, kind: str, name: str) -> None:
        if kind not in ("queue", "topic"):
            raise ValueError(kind)
        self.kind, self.name = kind, name

    @classmethod
    def of(cls, settings: Settings) -> "Destination":
        if settings.events_queue:
            return cls("queue", settings.events_queue)
        if settings.events_topic:
            return cls("topic", settings.events_topic)
        raise ConfigError("VODAI_EVENTS_QUEUE", "missing: the MNS queue the callback hands verified events to")

    @property
    def action(self) -> str:
        return "SendMessage" if self.kind == "queue" else "PublishMessage"

    def send(self, publisher: Publisher, body: str, tag: str) -> dict:
        if self.kind == "queue":
            return publisher.send_to_queue(self.name, body)
        return publisher.publish(self.name, body, tag)

    def __repr__(self) -> str:
        return f"Destination({self.kind!r}, {self.name!r})"


#: ``factory(context, timeout) -> Publisher``: ``context`` is the FC context of the request (or
#: None), ``timeout`` the (connect, read) seconds derived from the remaining budget.
PublisherFactory = Callable[[Any, Tuple[float, float]], Publisher]


class Budget:
    """A deadline on a monotonic clock, started when the request arrived."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self.started = clock()
        self.deadline = self.started + seconds

    def elapsed(self) -> float:
        return self._clock() - self.started

    def remaining(self) -> float:
        return max(0.0, self.deadline - self._clock())

    def exhausted_reason(self, detail: str) -> str:
        return f"hand-off budget of {self.seconds:g} s exhausted: {detail}"


def mns_publisher_factory(
    settings: Settings,
    session: Optional[requests.Session] = None,
) -> PublisherFactory:
    """The default factory: an :class:`MnsPublisher` per request (credentials are per request:
    the FC context's STS credentials, else the environment's), over one pooled session."""

    def factory(context: Any, timeout: Tuple[float, float]) -> Publisher:
        credentials = creds.resolve(context)
        endpoint = mns_base_url(settings, context)
        return MnsPublisher(credentials, session or instance.current().session, endpoint=endpoint, timeout=timeout)

    return factory


def publish_within(
    budget: Budget,
    factory: PublisherFactory,
    context: Any,
    *,
    destination: Destination,
    body: str,
    tag: str,
    connect_timeout: float,
) -> dict:
    """Hand ``body`` to ``destination`` before the budget's deadline; the MNS answer (MessageId...).

    Raises :class:`ConfigError` (credentials, endpoint) and :class:`HandoffError` (MNS refused,
    connection failed, budget ran out).
    """
    remaining = budget.remaining()
    if remaining < MIN_ATTEMPT_SECONDS:
        raise HandoffError(budget.exhausted_reason("no time left to publish"), budget_exhausted=True)
    publisher = factory(context, (min(connect_timeout, remaining), remaining))

    outcome: dict = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = destination.send(publisher, body, tag)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=run, name="vodai-callback-handoff", daemon=True)
    worker.start()
    if not done.wait(budget.remaining()) and not done.is_set():
        raise HandoffError(budget.exhausted_reason("no answer from MNS in time"), budget_exhausted=True)
    error = outcome.get("error")
    if error is None:
        return outcome["result"]
    if isinstance(error, TransportError):
        if "timed out" in error.message:
            raise HandoffError(budget.exhausted_reason(f"MNS {destination.action} {error.message}"), budget_exhausted=True)
        raise HandoffError(f"MNS {destination.action} {error.message}")
    if isinstance(error, ApiError):
        raise HandoffError(f"MNS {destination.action} failed: {error.code} (HTTP {error.status}): {error.message}")
    if isinstance(error, VodaiError):
        raise error
    raise HandoffError(f"MNS {destination.action} failed: {type(error).__name__}")
