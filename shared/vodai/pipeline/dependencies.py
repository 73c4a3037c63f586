"""What the pipeline calls out to, passed in so tests and the emulator plug in without patching."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

import requests

from .. import credentials as creds
from ..clients.mns import MnsPublisher, mns_base_url
from ..clients.session import shared_session
from ..clients.vod import VodClient
from ..config import Settings
from ..deadletter import DeadLetterSink, open_sink
from ..idempotency import IdempotencyStore, default_url, open_store
from ..retry import RetryPolicy
from ..routing.rules import RouteTable, load_table


@dataclass
class Dependencies:
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
    # Values that must never appear in a dead letter (the invocation's credentials).
    secrets: list = field(default_factory=list)


_stores: Dict[str, IdempotencyStore] = {}
_stores_lock = threading.Lock()


def shared_store(url: str) -> IdempotencyStore:
    """One store per URL per process: a warm instance reuses its connection."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = open_store(url)
        return store


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
) -> Dependencies:
    """Clients for one invocation: credentials change per call (STS), the session and store do not."""
    credentials = credentials or creds.resolve(context)
    session = session or shared_session()
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
    )
