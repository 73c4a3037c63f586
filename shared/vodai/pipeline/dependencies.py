"""What the pipeline calls out to, passed in so tests and the emulator plug in without patching."""

from __future__ import annotations

import os
import random
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import requests

from .. import credentials as creds
from .. import instance
from ..clients.mns import MnsPublisher, mns_base_url
from ..clients.vod import VodClient
from ..config import Settings
from ..deadletter import DeadLetterSink, open_sink
from ..idempotency import IdempotencyStore, default_url, open_store
from ..retry import RetryPolicy
from ..routing.rules import RouteTable, load_table
from ..tracking import TrackingStore, open_tracking
from ..tracking import default_url as default_tracking_url


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything the pipeline does I/O with, passed in: tests and the emulator plug in their own."""

    settings: Settings
    routes: RouteTable
    vod: VodClient
    publisher: MnsPublisher
    store: IdempotencyStore
    dead_letters: DeadLetterSink
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    # Values that must never appear in a dead letter (the invocation's credentials); never in a repr.
    secrets: List[str] = field(default_factory=list, repr=False)
    # Where submitted jobs are followed to their result (None: not tracked, e.g. a bare test setup).
    tracking: Optional[TrackingStore] = None


def shared_store(url: str) -> IdempotencyStore:
    """The instance's store for ``url`` (:mod:`vodai.instance`): a warm instance reuses its connection."""
    return instance.current().once(f"idempotency:{url}", lambda: open_store(url))


def shared_tracking(url: str, namespace: str) -> TrackingStore:
    """The instance's tracking store for ``url`` and ``namespace`` (the on_upload pipeline and the
    poller of one process share it, and a warm instance reuses its connection)."""
    return instance.current().once(f"tracking:{namespace}:{url}", lambda: open_tracking(url, namespace=namespace))


def tracking_for(settings: Settings, store: Optional[IdempotencyStore] = None) -> TrackingStore:
    """The tracking store: ``VODAI_TRACKING_STORE``, else the idempotency store's URL, else its
    default; when an idempotency store *object* was handed in without any URL configured (tests),
    the tracking store follows that object (its SQLite file, or a memory store tied to it)."""
    namespace = settings.namespace
    url = settings.tracking_url()
    if url is None and store is not None:
        path = getattr(store, "path", None)
        if isinstance(path, str) and path != ":memory:":
            return shared_tracking("sqlite:///" + os.path.abspath(path), namespace)
        beside: "weakref.WeakKeyDictionary[IdempotencyStore, TrackingStore]" = instance.current().once(
            "tracking:beside", weakref.WeakKeyDictionary)
        tracking = beside.get(store)
        if tracking is None or tracking.namespace != namespace:
            tracking = beside[store] = open_tracking("memory://", namespace=namespace)
        return tracking
    return shared_tracking(url or default_tracking_url(), namespace)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.retry_attempts, settings.retry_base_delay, settings.retry_max_delay)


def build(
    settings: Settings,
    *,
    context: Any = None,
    credentials: Optional[creds.Credentials] = None,
    session: Optional[requests.Session] = None,
    routes: Optional[RouteTable] = None,
    store: Optional[IdempotencyStore] = None,
    dead_letters: Optional[DeadLetterSink] = None,
    tracking: Optional[TrackingStore] = None,
) -> Dependencies:
    """Clients for one invocation: credentials change per call (STS), the session and store do not."""
    credentials = credentials or creds.resolve(context)
    session = session or instance.current().session
    timeout = (settings.connect_timeout, settings.read_timeout)
    vod = VodClient(
        credentials,
        session,
        endpoint=settings.vod_endpoint,
        signature_version=settings.signature_version,
        timeout=timeout,
    )
    publisher = MnsPublisher(credentials, session, endpoint=mns_base_url(settings, context), timeout=timeout)
    return Dependencies(
        settings,
        routes or load_table(settings.routes),
        vod,
        publisher,
        store or shared_store(settings.idempotency_url() or default_url()),
        dead_letters or open_sink(settings.dead_letters, publisher=publisher),
        retry_policy(settings),
        secrets=credentials.secrets(),
        tracking=tracking or tracking_for(settings, store),
    )
