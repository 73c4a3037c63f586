"""The built-in emulator of VOD and MNS, moto-style.

One :class:`EmulatorBackend` holds the state; two protocol layers (VOD JSON, MNS XML) serve it
through two front doors: in-process (:class:`EmulatorAdapter` / :func:`mount` on a
``requests`` session) and over HTTP (:func:`create_app` / :func:`serve`, Flask + waitress).

    backend = EmulatorBackend()
    backend.add_credentials("id", "secret")
    backend.create_topic("vodai-callback")
    mount(backend, session)          # every request of `session` now hits the emulator
    backend.faults.add(FaultRule("SubmitAIImageJob", "error", code="Throttling.User"))

Fault injection (errors, latency, connection resets, lost responses) is described in
:mod:`vodai.emulator.faults`; SendMessage to queues (``backend.create_queue``) sits beside
PublishMessage to topics.

The emulator also plays VOD's own part:

    backend.set_callback(url="http://127.0.0.1:9000/vod/callback", auth_key="Key123")  # or mns="queue:vod-events"
    backend.subscribe("vod-events", "http://127.0.0.1:9001", "JSON")   # an FC MNS topic trigger
    backend.queue_triggers.add("vod-events-q", ["http://127.0.0.1:9001", "http://127.0.0.1:9002"],
                               batch_size=10)                        # an FC MNS queue trigger
    backend.upload("video", "cn-shanghai", extend={"k": "v"})          # the upload event goes out
    backend.set_lifecycle("SubmitAIImageJob", "after_seconds=30", outcome="fail")
    backend.advance(30)                                                # emulator clock
    backend.deliveries.wait()                                          # deliveries run on workers

Uploads and callbacks: :mod:`vodai.emulator.callbacks`, :mod:`vodai.emulator.delivery`;
queue triggers: :mod:`vodai.emulator.queue_trigger`, :mod:`vodai.emulator.queue_poller`;
job lifecycle: :mod:`vodai.emulator.lifecycle`; results: :mod:`vodai.emulator.results`;
state: ``backend.state()`` / ``backend.load_state(...)``.

``create_app`` and ``serve`` are loaded on first use so that importing this package never
imports Flask.
"""

from __future__ import annotations

from typing import Any

from .backend import DEFAULT_REGION_ACTIONS, Credentials, EmulatorBackend
from .callbacks import CallbackConfig, CallbackSpecError, Subscription, parse_subscription
from .clock import Clock
from .delivery import Deliveries
from .errors import EmulatorError
from .faults import Fault, FaultRule, Faults, FaultSpecError, parse_fault
from .lifecycle import LifecycleRule, LifecycleSpecError, parse_lifecycle
from .protocol import handle
from .queue_poller import QueueTriggers
from .queue_trigger import QueueTrigger, parse_queue_trigger
from .request import EmulatorRequest, EmulatorResponse
from .transport import EmulatorAdapter, mount

_SERVER_NAMES = ("create_app", "make_server", "serve")


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_REGION_ACTIONS",
    "CallbackConfig",
    "CallbackSpecError",
    "Clock",
    "Credentials",
    "Deliveries",
    "EmulatorAdapter",
    "EmulatorBackend",
    "EmulatorError",
    "EmulatorRequest",
    "EmulatorResponse",
    "Fault",
    "FaultRule",
    "FaultSpecError",
    "Faults",
    "LifecycleRule",
    "LifecycleSpecError",
    "QueueTrigger",
    "QueueTriggers",
    "Subscription",
    "create_app",
    "handle",
    "make_server",
    "mount",
    "parse_fault",
    "parse_lifecycle",
    "parse_queue_trigger",
    "parse_subscription",
    "serve",
]
