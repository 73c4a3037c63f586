"""The emulator's single source of truth: credentials, topics, queues, media, jobs and their
lifecycle, nonces, fault rules, the callback setting, topic triggers, the request log and the
delivery log.

Both protocol layers (VOD JSON, MNS XML) and both front doors (requests adapter, Flask server)
share one backend, so a test can publish through one door and inspect through another.
Every method takes the lock and hands out copies, so callers never see half-updated state.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import heapq
import json
import logging
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Iterator, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from vodai.events import samples

from . import results
from .callbacks import DEFAULT_REGION as DEFAULT_CALLBACK_REGION
from .callbacks import HTTP as CALLBACK_HTTP
from .callbacks import CallbackConfig, CallbackSpecError, Subscription
from .clock import Clock
from .delivery import Deliveries, traffic_logger
from .faults import Fault, Faults, parse_fault
from .lifecycle import ACTIONS as LIFECYCLE_ACTIONS
from .lifecycle import (
    AFTER_QUERIES,
    AFTER_SECONDS,
    AT_ONCE,
    DEFAULT_FAIL_CODE,
    DEFAULT_FAIL_MESSAGE,
    FAIL,
    PROCESSING,
    SUCCESS,
    SUCCESS_CODES,
    Lifecycle,
    LifecycleRule,
)
from .message_queue import MessageQueue
from .queue_poller import QueueTriggers
from .queue_trigger import QueueTrigger

# Which VOD actions each region serves (per docs/reference). A plain dict on purpose:
# the Chinese reference also lists the audit action in cn-shanghai/cn-beijing, so tests
# and later issues may widen it.
DEFAULT_REGION_ACTIONS: dict[str, set[str]] = {
    "cn-shanghai": {"SubmitAIImageJob", "GetAIImageJobs", "GetVideoInfo", "GetImageInfo", "SearchMedia"},
    "cn-beijing": {"SubmitAIImageJob", "GetAIImageJobs", "GetVideoInfo", "GetImageInfo", "SearchMedia"},
    "ap-southeast-1": {"SubmitAIImageAuditJob", "GetAIMediaAuditJob", "GetVideoInfo", "GetImageInfo", "SearchMedia"},
}
# A media's Status once its upload completed (GetVideoInfo's / GetImageInfo's values).
UPLOADED_STATUS = {"video": "UploadSucc", "audio": "UploadSucc", "image": "Normal", "attached": "Normal"}

# Job types (a job's ``Type``): SubmitAIImageJob makes AIImage jobs, SubmitAIImageAuditJob
# AIImageAudit jobs (GetAIMediaAuditJob shows those with VOD's type name, AIMediaAudit).
AI_IMAGE = "AIImage"
AI_IMAGE_AUDIT = "AIImageAudit"

# What ``upload`` and ``add_media`` take (vodai.events.samples.body's media types).
UPLOAD_MEDIA_TYPES = samples.MEDIA_TYPES
# The upload's Extend travels in UserData, which VOD caps at 512 bytes.
EXTEND_MAX_BYTES = 512
DEFAULT_ACCOUNT_ID = samples.ACCOUNT_ID
STATE_VERSION = 1
# MNS queue attributes: VisibilityTimeout 1..43200 seconds, 30 by default.
DEFAULT_VISIBILITY_TIMEOUT = 30
MAX_VISIBILITY_TIMEOUT = 43200
_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")

# Alibaba rejects timestamps more than 15 minutes off, so a nonce only has to be
# remembered for that long: an older replay fails the timestamp check anyway.
NONCE_TTL_SECONDS = 15 * 60
REQUEST_LOG_SIZE = 100_000  # entries kept in the request log (the oldest go first)

# Parameters never written to the request log (or to stderr through it).
SECRET_PARAMS = frozenset({"Signature", "SecurityToken", "BearerToken", "AccessKeySecret"})

logger = logging.getLogger("vodai.emulator")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: Optional[str] = None


def utc_timestamp(epoch: float) -> str:
    """``YYYY-MM-DDThh:mm:ssZ``, the format VOD uses for CreationTime and friends."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


class EmulatorBackend:
    """In-memory state of one emulated Alibaba Cloud account (VOD + MNS)."""

    def __init__(
        self,
        default_region: str = "cn-shanghai",
        *,
        verify_signatures: bool = True,
        region_actions: Optional[dict[str, set[str]]] = None,
        seed: Optional[int] = None,
        clock: Optional[Clock] = None,
        strict_media: bool = False,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self.default_region = default_region
        self.verify_signatures = verify_signatures
        self.region_actions = copy.deepcopy(
            DEFAULT_REGION_ACTIONS if region_actions is None else region_actions
        )
        # The emulator clock (vodai.emulator.clock): real time unless a test freezes it.
        self.clock = clock if clock is not None else Clock()
        # Strict media: Submit* on a media id the emulator never saw fails as VOD does.
        self.strict_media = strict_media
        # Extra maximum lengths (characters) per VOD parameter name, e.g. {"VideoId": 32}.
        # VOD publishes none for the ids, so none is enforced by default.
        self.param_max_lengths: dict[str, int] = {}
        # The account: MNS TopicOwner/Subscriber, x-fc-account-id.
        self.account_id = account_id
        self._lock = threading.RLock()
        self._credentials: dict[str, Credentials] = {}
        self._topics: dict[str, list[dict[str, Any]]] = {}
        self._queues: dict[str, MessageQueue] = {}
        # Per queue: the VisibilityTimeout (seconds) a received message stays invisible for.
        self._queue_visibility: dict[str, int] = {}
        # Signalled when a queue may have a message to receive sooner (one sent, its visibility
        # changed, the clock moved, a stop): queue triggers sleep on it instead of polling.
        self._queue_changed = threading.Condition(self._lock)
        # Signalled when a queue becomes empty (its last message deleted, a reset or a load): what
        # drain waits sleep on, so they are not woken by each of the thousands of messages before.
        self._queue_emptied = threading.Condition(self._lock)
        self._jobs: dict[str, dict[str, Any]] = {}
        # (due time, job id) of every after_seconds job still processing: tick() looks at
        # these only, so a request never walks all the jobs.
        self._timed: list[tuple[float, str]] = []
        self._media: dict[str, dict[str, Any]] = {}
        # SearchMedia's ScrollTokens: token -> how many results the pages before it held.
        self._scrolls: dict[str, tuple[list[str], int]] = {}
        # The newest requests only: a long replay or soak must not grow the emulator without bound.
        self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._nonces: dict[tuple[str, str], float] = {}
        self._in_flight = 0
        self._peak_in_flight = 0
        self._callbacks: dict[str, CallbackConfig] = {}
        self._subscriptions: list[Subscription] = []
        self._trigger_credentials: Optional[Credentials] = None
        # Fault rules (vodai.emulator.faults); ``seed`` makes their probability draws repeat.
        self.faults = Faults(seed)
        # Job lifecycle rules (vodai.emulator.lifecycle) and their seeded draws.
        self.lifecycle = Lifecycle()
        self.seed_value = seed
        self._lifecycle_rng = random.Random(seed)
        # Outgoing deliveries (vodai.emulator.delivery): callbacks, MNS, topic triggers.
        self.deliveries = Deliveries(self)
        # FC MNS queue triggers (vodai.emulator.queue_poller): queues pushed to function instances.
        self.queue_triggers = QueueTriggers(self)
        self._ticker: Optional[threading.Thread] = None
        self._ticker_stop = threading.Event()

    # -- configuration (kept by reset) ---------------------------------------------------

    def add_credentials(
        self, access_key_id: str, access_key_secret: str, security_token: Optional[str] = None
    ) -> None:
        """Register a key. With a token, every request made with this key must carry it."""
        with self._lock:
            self._credentials[access_key_id] = Credentials(
                access_key_id, access_key_secret, security_token or None
            )

    def credentials(self, access_key_id: str) -> Optional[Credentials]:
        with self._lock:
            return self._credentials.get(access_key_id)

    @property
    def trigger_credentials(self) -> Optional[Credentials]:
        """What a topic trigger passes the function in ``x-fc-access-key-*`` (FC: the service
        role's STS credentials): set explicitly, else the first registered key."""
        with self._lock:
            if self._trigger_credentials is not None:
                return self._trigger_credentials
            return next(iter(self._credentials.values()), None)

    @trigger_credentials.setter
    def trigger_credentials(self, value: Optional[Credentials]) -> None:
        with self._lock:
            self._trigger_credentials = value

    def create_topic(self, name: str) -> None:
        with self._lock:
            self._topics.setdefault(name, [])

    def has_topic(self, name: str) -> bool:
        with self._lock:
            return name in self._topics

    def topics(self) -> list[str]:
        with self._lock:
            return sorted(self._topics)

    def create_queue(self, name: str, *, visibility_timeout: Optional[int] = None) -> None:
        """Create queue ``name`` (kept if it exists); ``visibility_timeout`` sets its
        VisibilityTimeout in seconds (MNS's default, 30, for a new queue without one)."""
        if visibility_timeout is not None and not 1 <= visibility_timeout <= MAX_VISIBILITY_TIMEOUT:
            raise ValueError(f"visibility_timeout: {visibility_timeout} is not between 1 and {MAX_VISIBILITY_TIMEOUT}")
        with self._lock:
            if name not in self._queues:
                self._queues[name] = MessageQueue()
            if visibility_timeout is not None or name not in self._queue_visibility:
                self._queue_visibility[name] = visibility_timeout or DEFAULT_VISIBILITY_TIMEOUT

    def visibility_timeout(self, name: str) -> int:
        """Queue ``name``'s VisibilityTimeout in seconds; KeyError for an unknown queue."""
        with self._lock:
            self._queues[name]  # noqa: B018 - KeyError for an unknown queue
            return self._queue_visibility.get(name, DEFAULT_VISIBILITY_TIMEOUT)

    def has_queue(self, name: str) -> bool:
        with self._lock:
            return name in self._queues

    def queues(self) -> list[str]:
        with self._lock:
            return sorted(self._queues)

    def serves(self, region: str, action: str) -> bool:
        with self._lock:
            return action in self.region_actions.get(region, set())

    def seed(self, seed: Optional[int]) -> None:
        """Restart every seeded draw (faults, lifecycle failures) from ``seed``; results of
        finished jobs are derived from it too (vodai.emulator.results)."""
        self.faults.seed(seed)
        with self._lock:
            self.seed_value = seed
            self._lifecycle_rng.seed(seed)

    # -- the VOD callback configuration and topic triggers ----------------------------------

    def set_callback(
        self,
        region: Optional[str] = None,
        *,
        url: Optional[str] = None,
        auth_key: Optional[str] = None,
        mns: Optional[str] = None,
        event_types: Optional[Sequence[str]] = None,
        config: Optional[CallbackConfig] = None,
    ) -> CallbackConfig:
        """Set where VOD delivers the events of ``region`` (None: every region without its own
        setting), like VOD's SetMessageCallback: an HTTP ``url`` (signed with ``auth_key``) or
        ``mns="queue:NAME"`` / ``"topic:NAME"``. Replaces that region's previous setting."""
        if config is None:
            if (url is None) == (mns is None):
                raise CallbackSpecError("give either url (HTTP callback) or mns (queue:NAME or topic:NAME)")
            config = (
                CallbackConfig.http(url, auth_key, event_types)
                if url is not None
                else CallbackConfig.mns(mns, event_types)  # type: ignore[arg-type]
            )
        with self._lock:
            self._callbacks[region or DEFAULT_CALLBACK_REGION] = config
        return config

    def clear_callback(self, region: Optional[str] = None) -> bool:
        """Remove the setting of ``region`` (None: the default); True if there was one."""
        with self._lock:
            return self._callbacks.pop(region or DEFAULT_CALLBACK_REGION, None) is not None

    def callbacks(self) -> dict[str, CallbackConfig]:
        """Every setting by region (``*`` is the default)."""
        with self._lock:
            return dict(self._callbacks)

    def callback_for(self, region: str) -> Optional[CallbackConfig]:
        with self._lock:
            return self._callbacks.get(region) or self._callbacks.get(DEFAULT_CALLBACK_REGION)

    def subscribe(
        self,
        topic: Union[str, Subscription],
        url: Optional[str] = None,
        format: str = "STREAM",
        *,
        function_name: str = "on_upload",
        name: str = "",
        filter_tag: Optional[str] = None,
    ) -> Subscription:
        """Subscribe the function served at ``url`` (a ``vodai serve`` shim: POST ``url``/invoke)
        to ``topic``, as an FC MNS topic trigger in ``format`` STREAM or JSON. The topic is
        created if needed. A subscription of the same name replaces the old one."""
        if isinstance(topic, Subscription):
            subscription = topic
        else:
            if url is None:
                raise CallbackSpecError("a trigger needs the function's URL")
            subscription = Subscription(
                topic, url, format, name=name, function_name=function_name, filter_tag=filter_tag
            )
        with self._lock:
            self._topics.setdefault(subscription.topic, [])
            self._subscriptions = [s for s in self._subscriptions if s.name != subscription.name]
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, name: Optional[str] = None) -> int:
        """Remove the subscription ``name`` (None: all); returns how many were removed."""
        with self._lock:
            before = len(self._subscriptions)
            self._subscriptions = [s for s in self._subscriptions if name is not None and s.name != name]
            return before - len(self._subscriptions)

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)

    def set_lifecycle(
        self,
        action: Union[str, LifecycleRule, Mapping[str, Any]],
        schedule: Optional[str] = None,
        *,
        outcome: Optional[str] = None,
        code: Optional[str] = None,
        message: Optional[str] = None,
        fail_probability: Optional[float] = None,
        suggestion: Optional[str] = None,
    ) -> list[LifecycleRule]:
        """Set how jobs of ``action`` (SubmitAIImageJob, SubmitAIImageAuditJob, ``*``) finish.

        ``schedule``: ``"at_once"``, ``"never"``, ``"after_queries=N"`` or ``"after_seconds=T"``
        (default: the current rule's). ``action`` may also be a whole spec
        (``"SubmitAIImageJob:after_queries=2,outcome=fail"``), a dict or a LifecycleRule.
        Applies to jobs submitted from now on; returns the rules set.
        """
        if not isinstance(action, str) or ":" in action or action.lstrip().startswith("{"):
            return self.lifecycle.set(action)
        base = self.lifecycle.rule(action).to_dict() if action in LIFECYCLE_ACTIONS else {}
        fields: dict[str, Any] = {
            k: v for k, v in base.items() if k not in ("action",)
        }
        if schedule is not None:
            scheduled = LifecycleRule.parse(f"{action}:{schedule}")
            fields.update(schedule=scheduled.schedule, queries=scheduled.queries, seconds=scheduled.seconds)
        overrides = {
            "outcome": outcome,
            "code": code,
            "message": message,
            "fail_probability": fail_probability,
            "suggestion": suggestion,
        }
        fields.update({k: v for k, v in overrides.items() if v is not None})
        if outcome == "success" and code is None:
            fields.update(code=None, message=None)
        return self.lifecycle.set(LifecycleRule(action=action, **fields))

    # -- media and uploads --------------------------------------------------------------

    def add_media(
        self,
        media_type: str,
        region: str,
        *,
        media_id: Optional[str] = None,
        extend: Union[Mapping[str, Any], str, None] = None,
        file_name: Optional[str] = None,
        size: Optional[int] = None,
        created: Optional[float] = None,
    ) -> dict[str, Any]:
        """Record a media as uploaded (no event); returns the record, whose ``Event`` is the
        body VOD sends for it. ``media_type``: video, audio, image or attached; ``created``: its
        CreationTime (epoch seconds; default now), e.g. a library uploaded before deployment."""
        if media_type not in UPLOAD_MEDIA_TYPES:
            raise ValueError(f"media type {media_type!r}: use one of {', '.join(UPLOAD_MEDIA_TYPES)}")
        if not isinstance(region, str) or not _REGION.match(region):
            raise ValueError(f"region {region!r}: e.g. cn-shanghai")
        if media_id is None:
            media_id = uuid.uuid4().hex
        elif not isinstance(media_id, str) or not media_id or len(media_id) > 128:
            raise ValueError("media id: 1 to 128 characters")
        extend_text: Optional[str] = None
        if extend is not None:
            extend_text = extend if isinstance(extend, str) else json.dumps(
                dict(extend), separators=(",", ":"), ensure_ascii=False
            )
            if len(extend_text.encode("utf-8")) > EXTEND_MAX_BYTES:
                raise ValueError(f"Extend: at most {EXTEND_MAX_BYTES} bytes (VOD's UserData limit)")
        now = self.clock.now() if created is None else float(created)
        body = samples.body(
            media_type,
            region=region,
            media_id=media_id,
            event_time=datetime.fromtimestamp(now, tz=UTC),
            extend=extend_text if extend_text is not None else "",
            size=size,
        )
        if extend_text is None:
            body.pop("Extend", None)
        url_key = "FileUrl" if "FileUrl" in body else "FileURL"
        if file_name:
            body[url_key] = _with_extension(body[url_key], file_name)
        record = {
            "MediaId": media_id,
            "MediaType": media_type,
            "Region": region,
            "FileName": file_name or _file_name(body[url_key]),
            "FileUrl": body[url_key],
            "Size": body["Size"],
            "Extend": extend_text,
            "EventType": body["EventType"],
            "CreationTime": utc_timestamp(now),
            "Status": UPLOADED_STATUS[media_type],
            "Event": body,
        }
        with self._lock:
            self._media[media_id] = record
        return copy.deepcopy(record)

    def upload(
        self,
        media_type: str,
        region: str,
        *,
        media_id: Optional[str] = None,
        extend: Union[Mapping[str, Any], str, None] = None,
        file_name: Optional[str] = None,
        size: Optional[int] = None,
    ) -> dict[str, Any]:
        """A video, audio file, image (or attached media) finished uploading in ``region``.

        Records the media, builds the upload-complete event exactly as VOD sends it
        (vodai.events.samples.body: FileUrl/FileURL on an ``oss-<region>`` host, the event
        type's EventTime style) and delivers it as the callback setting of that region says,
        on the delivery worker. Returns ``{"MediaId", "Media", "Event", "Delivery"}``;
        ``Delivery`` is the queued delivery record, or None without a callback setting.
        """
        record = self.add_media(
            media_type, region, media_id=media_id, extend=extend, file_name=file_name, size=size
        )
        delivery = self.deliver_event(region, record["Event"])
        return {
            "MediaId": record["MediaId"],
            "Media": record,
            "Event": record["Event"],
            "Delivery": delivery,
        }

    def search_media(self, region: str, media_types: Sequence[str], *, since: Optional[float] = None,
                     until: Optional[float] = None, descending: bool = False) -> list[str]:
        """The ids of the media of ``region`` with one of ``media_types`` created in
        [since, until), ordered by CreationTime then MediaId (what SearchMedia pages through)."""
        low = utc_timestamp(since) if since is not None else ""
        high = utc_timestamp(until) if until is not None else None
        with self._lock:  # CreationTime is fixed-width UTC text: it sorts and compares as time
            found = [(r["CreationTime"], r["MediaId"]) for r in self._media.values()
                     if r["Region"] == region and r["MediaType"] in media_types
                     and r["CreationTime"] >= low and (high is None or r["CreationTime"] < high)]
        found.sort(reverse=descending)
        return [media_id for _, media_id in found]

    def open_scroll(self, media_ids: Sequence[str], position: int) -> str:
        """A new SearchMedia ScrollToken (32 hex characters): the results from ``position`` on.
        Every page gets a token of its own, so a page asked for again is the same page."""
        token = uuid.uuid4().hex
        with self._lock:
            self._scrolls[token] = (media_ids if isinstance(media_ids, list) else list(media_ids), position)
        return token

    def scroll(self, token: str) -> Optional[tuple[list[str], int]]:
        """The results a ScrollToken stands for and its position, or None for one never given."""
        with self._lock:
            return self._scrolls.get(token)

    def media_records(self, media_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The records of ``media_ids`` that still exist, in that order."""
        with self._lock:
            return [copy.deepcopy(self._media[i]) for i in media_ids if i in self._media]

    def media(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._media.values()))

    def get_media(self, media_id: str) -> Optional[dict[str, Any]]:
        with self._lock:
            record = self._media.get(media_id)
            return copy.deepcopy(record) if record is not None else None

    def deliver_event(self, region: str, body: Mapping[str, Any]) -> Optional[dict[str, Any]]:
        """Send one VOD event as the callback setting of ``region`` says (queued, not run
        here); returns the delivery record, or None when nothing is configured for it."""
        event_type = str(body.get("EventType", ""))
        config = self.callback_for(region)
        if config is None or not config.accepts(event_type):
            return None
        text = json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False)
        meta = {
            "Region": region,
            "EventType": event_type,
            "MediaId": _event_media_id(body),
            "JobId": body.get("JobId"),
        }
        if config.kind == CALLBACK_HTTP:
            return self.deliveries.http_callback(config.url or "", config.auth_key, text, meta)
        return self.deliveries.to_mns(config.target or "queue", config.name or "", text, meta)

    # -- recorded state (cleared by reset) -------------------------------------------------

    def publish(
        self,
        topic: str,
        body: str,
        tag: Optional[str],
        *,
        attributes: Optional[Mapping[str, Any]] = None,
    ) -> dict[str, Any]:
        """Store a message as published and run the topic's triggers; KeyError when the
        topic does not exist."""
        message: dict[str, Any] = {
            "MessageId": uuid.uuid4().hex.upper(),
            "MessageBody": body,
            "MessageTag": tag,
            "PublishTime": int(self.clock.now() * 1000),
            "MessageBodyMD5": hashlib.md5(body.encode("utf-8")).hexdigest().upper(),
        }
        if attributes:
            message["MessageAttributes"] = dict(attributes)
        with self._lock:
            self._topics[topic].append(message)
            subscriptions = [s for s in self._subscriptions if s.matches(topic, tag)]
            credentials = self.trigger_credentials
        for subscription in subscriptions:
            self.deliveries.trigger(
                subscription,
                message,
                credentials=credentials,
                region=self.default_region,
                account_id=self.account_id,
            )
        return dict(message)

    def topic_size(self, name: str) -> int:
        """How many messages were published to ``name`` (since the last reset); KeyError for an
        unknown topic. No copy: a topic that took 200,000 messages is counted in no time."""
        with self._lock:
            return len(self._topics[name])

    def topic_messages(self, name: str) -> list[dict[str, Any]]:
        """Messages published to ``name``, oldest first; KeyError for an unknown topic."""
        with self._lock:
            # Copies: every value is text or a number but the attributes (a deep copy of 200,000
            # messages would cost seconds).
            return [dict(m, MessageAttributes=copy.deepcopy(m["MessageAttributes"])) if "MessageAttributes" in m
                    else dict(m) for m in self._topics[name]]

    def send_to_queue(
        self, queue: str, body: str, *, delay_seconds: int = 0, priority: int = 8
    ) -> dict[str, Any]:
        """Store a message as sent to a queue; KeyError when the queue does not exist."""
        now = int(self.clock.now() * 1000)
        message = {
            "MessageId": uuid.uuid4().hex.upper(),
            "MessageBody": body,
            "MessageBodyMD5": hashlib.md5(body.encode("utf-8")).hexdigest().upper(),
            "DelaySeconds": delay_seconds,
            "Priority": priority,
            "EnqueueTime": now,
            "NextVisibleTime": now + delay_seconds * 1000,
            "DequeueCount": 0,
            "FirstDequeueTime": None,
            "ReceiptHandle": None,
        }
        with self._lock:
            self._queues[queue].add(message)
            self._queue_changed.notify_all()
        return dict(message)

    def receive_from_queue(
        self, queue: str, count: int = 1, *, visibility_timeout: Optional[int] = None
    ) -> list[dict[str, Any]]:
        """Receive up to ``count`` visible messages of ``queue`` (highest priority, then oldest,
        first): each becomes invisible for ``visibility_timeout`` seconds (default: the queue's
        VisibilityTimeout) and gets a new ReceiptHandle (the one before stops working). KeyError
        for an unknown queue."""
        now = int(self.clock.now() * 1000)
        with self._lock:
            seconds = visibility_timeout or self._queue_visibility.get(queue, DEFAULT_VISIBILITY_TIMEOUT)
            return self._queues[queue].receive(count, now, seconds * 1000)

    def delete_from_queue(self, queue: str, receipt_handle: str) -> bool:
        """Delete the message whose current ReceiptHandle is ``receipt_handle``; False when no
        message has it, or its visibility timeout has ended (MNS's "message not exist").
        KeyError for an unknown queue."""
        now = int(self.clock.now() * 1000)
        with self._lock:
            messages = self._queues[queue]
            if not messages.delete(receipt_handle, now):
                return False
            if not messages:
                self._queue_emptied.notify_all()
            return True

    def change_visibility(self, queue: str, receipt_handle: str, seconds: int) -> Optional[dict[str, Any]]:
        """Make the message of ``receipt_handle`` visible again ``seconds`` from now; returns
        its new ReceiptHandle and NextVisibleTime, or None as :meth:`delete_from_queue`."""
        now = int(self.clock.now() * 1000)
        with self._lock:
            messages = self._queues[queue]
            soonest = messages.next_visible_in(now)
            changed = messages.change_visibility(receipt_handle, now + seconds * 1000, now)
            if changed is not None and messages.next_visible_in(now) < soonest:
                self._queue_changed.notify_all()  # receivable sooner than a waiter thought (not a restart)
            return changed

    def queue_messages(self, name: str) -> list[dict[str, Any]]:
        """Messages sent to queue ``name``, oldest first; KeyError for an unknown queue."""
        with self._lock:
            return self._queues[name].messages()

    def queue_stats(self, name: str) -> dict[str, int]:
        """How many messages queue ``name`` holds: ``visible`` (receivable now), ``in_flight``
        (received, not yet deleted nor visible again), ``delayed`` (sent with DelaySeconds, never
        received yet), and all of them (``messages``); and how many were ever ``sent`` to it (since
        it was made, the last reset or the state loaded). KeyError for an unknown queue."""
        now = int(self.clock.now() * 1000)
        with self._lock:
            return self._queues[name].stats(now)

    def wait_for_messages(self, name: str, timeout: float, *, stop: Optional[threading.Event] = None) -> bool:
        """Sleep until queue ``name`` may have a visible message: it has one now (True at once),
        the queues changed, the next invisible message's time came, ``stop`` was set (and the
        queues notified, see :meth:`wake_queue_waiters`) or ``timeout`` seconds passed. One wait,
        never a loop: the caller looks again. True when a message is visible on return.
        KeyError for an unknown queue."""
        with self._lock:
            if stop is not None and stop.is_set():
                return False
            if self._next_visible_in(name) <= 0:
                return True
            # At most a second: the clock may be moved (load_state) without a notification.
            self._queue_changed.wait(max(0.0, min(timeout, self._next_visible_in(name), 1.0)))
            return name in self._queues and self._next_visible_in(name) <= 0

    def _next_visible_in(self, name: str) -> float:  # lock held
        """Seconds until a message of ``name`` is visible: <= 0 when one is, inf when empty."""
        return self._queues[name].next_visible_in(int(self.clock.now() * 1000)) / 1000

    def wake_queue_waiters(self) -> None:
        """Wake every :meth:`wait_for_messages` and :meth:`wait_until_empty` (e.g. after setting a stop)."""
        with self._lock:
            self._queue_changed.notify_all()
            self._queue_emptied.notify_all()

    def wait_until_empty(self, name: str, timeout: Optional[float]) -> bool:
        """Block until queue ``name`` holds no message (every one deleted); False if ``timeout``
        passed first. KeyError for an unknown queue."""
        with self._lock:
            self._queues[name]  # noqa: B018 - KeyError for an unknown queue
            return self._queue_emptied.wait_for(lambda: not self._queues.get(name), timeout)

    # -- jobs and their lifecycle ------------------------------------------------------

    def submit_job(self, action: str, job: dict[str, Any]) -> dict[str, Any]:
        """Store a job submitted by ``action`` with its lifecycle plan, drawn now from the
        action's rule (the failure draw uses the seeded lifecycle RNG); an ``at_once`` job is
        finished before this returns."""
        rule = self.lifecycle.rule(action)
        with self._lock:
            fails = rule.outcome == FAIL or (
                rule.fail_probability > 0 and self._lifecycle_rng.random() < rule.fail_probability
            )
            stored = copy.deepcopy(job)
            stored.update(
                Action=action,
                SubmittedAt=self.clock.now(),
                QueryCount=0,
                Lifecycle={
                    "Schedule": rule.schedule,
                    "Queries": rule.queries,
                    "Seconds": rule.seconds,
                    "Outcome": FAIL if fails else SUCCESS,
                    "Code": rule.code,
                    "Message": rule.message,
                    "Suggestion": rule.suggestion,
                    "Rule": rule.spec(),
                },
            )
            self._jobs[stored["JobId"]] = stored
            if rule.schedule == AT_ONCE:
                self._complete(stored)
            elif rule.schedule == AFTER_SECONDS:
                heapq.heappush(self._timed, (stored["SubmittedAt"] + rule.seconds, stored["JobId"]))
            return copy.deepcopy(stored)

    def query_jobs(self, job_ids: Sequence[str], *, job_type: str, region: str) -> list[dict[str, Any]]:
        """The jobs a Get* action sees, in the order asked: each found job (of ``job_type``, in
        ``region``) counts one query, and finishes first if its schedule says so. Unknown ids,
        other types and other regions are left out."""
        found = []
        with self._lock:
            now = self.clock.now()
            for job_id in job_ids:
                job = self._jobs.get(job_id)
                if job is None or job.get("Type") != job_type or job.get("Region") != region:
                    continue
                if job.get("Status") == PROCESSING and self._due(job, now, querying=True):
                    self._complete(job)
                job["QueryCount"] = job.get("QueryCount", 0) + 1
                found.append(copy.deepcopy(job))
        return found

    def _due(self, job: dict[str, Any], now: float, *, querying: bool = False) -> bool:  # lock held
        plan = job.get("Lifecycle")
        if not plan:
            return False
        if plan["Schedule"] == AFTER_SECONDS:
            return now >= job["SubmittedAt"] + plan["Seconds"]
        if plan["Schedule"] == AFTER_QUERIES:
            return querying and job.get("QueryCount", 0) >= plan["Queries"]
        return plan["Schedule"] == AT_ONCE

    def _complete(self, job: dict[str, Any]) -> None:  # lock held
        plan = job["Lifecycle"]
        action = job.get("Action", "")
        now = self.clock.now()
        job["CompleteTime"] = utc_timestamp(now)
        audit = job.get("Type") == AI_IMAGE_AUDIT
        if plan["Outcome"] == FAIL:
            job["Status"] = FAIL
            job["Code"] = plan.get("Code") or DEFAULT_FAIL_CODE
            job["Message"] = plan.get("Message") or DEFAULT_FAIL_MESSAGE
        else:
            job["Status"] = SUCCESS
            job["Code"], job["Message"] = SUCCESS_CODES.get(action, ("0", "OK"))
            if audit:
                job["Data"] = results.audit_data(
                    self.seed_value,
                    media_id=job["MediaId"],
                    template_id=job.get("TemplateId", ""),
                    image_url=self._media_url(job["MediaId"], "image", job["Region"]),
                    suggestion=plan.get("Suggestion"),
                )
            else:
                job["AIImageResult"] = results.ai_image_result(
                    self.seed_value,
                    video_id=job["VideoId"],
                    template_id=job.get("TemplateId", ""),
                    oss_host=urlsplit(self._media_url(job["VideoId"], "video", job["Region"])).netloc,
                )
        if audit:
            job.setdefault("Data", {})
            self.deliver_event(job["Region"], audit_complete_event(job, now))

    def _media_url(self, media_id: str, media_type: str, region: str) -> str:  # lock held
        record = self._media.get(media_id)
        if record is not None:
            return record["FileUrl"]
        body = samples.body(media_type, region=region, media_id=media_id)
        return body.get("FileUrl") or body["FileURL"]

    def find_media(self, media_id: str, region: str, media_types: Sequence[str]) -> Optional[dict[str, Any]]:
        """The media ``media_id`` if it was uploaded (or seeded) in ``region`` with one of
        ``media_types``: what strict media mode requires of a submitted job."""
        with self._lock:
            record = self._media.get(media_id)
            if record is None or record["Region"] != region or record["MediaType"] not in media_types:
                return None
            return copy.deepcopy(record)

    def set_media_status(self, media_id: str, status: str) -> None:
        """Set the Status GetVideoInfo / GetImageInfo show for a media (e.g. Blocked, UploadFail).

        Raises
        ------
        KeyError
            The emulator has no media ``media_id``.
        """
        with self._lock:
            self._media[media_id]["Status"] = status

    def tick(self) -> int:
        """Finish every ``after_seconds`` job whose time has come (emulator clock); returns how
        many finished. Called by every request, by :meth:`advance` and by the server's ticker."""
        finished = 0
        with self._lock:
            now = self.clock.now()
            while self._timed and self._timed[0][0] <= now:
                _, job_id = heapq.heappop(self._timed)
                job = self._jobs.get(job_id)
                if job is not None and job.get("Status") == PROCESSING and self._due(job, now):
                    self._complete(job)
                    finished += 1
        return finished

    def _index_timed(self) -> None:  # lock held
        self._timed = [
            (job["SubmittedAt"] + job["Lifecycle"]["Seconds"], job_id)
            for job_id, job in self._jobs.items()
            if job.get("Status") == PROCESSING and (job.get("Lifecycle") or {}).get("Schedule") == AFTER_SECONDS
        ]
        heapq.heapify(self._timed)

    def advance(self, seconds: float) -> int:
        """Move the emulator clock forward and finish the jobs that are then due."""
        self.clock.advance(seconds)
        self.wake_queue_waiters()  # invisible messages may be visible now
        return self.tick()

    def start_ticker(self, interval: float = 0.2) -> None:
        """Run :meth:`tick` every ``interval`` seconds on a daemon thread (the server does), so
        an ``after_seconds`` job finishes, and its event goes out, without being queried."""
        with self._lock:
            if self._ticker is not None and self._ticker.is_alive():
                return
            self._ticker_stop.clear()

            def run() -> None:
                while not self._ticker_stop.wait(interval):
                    try:
                        self.tick()
                    except Exception:  # pragma: no cover - keep ticking
                        logger.exception("emulator tick failed")

            self._ticker = threading.Thread(target=run, name="vodai-emulator-ticker", daemon=True)
            self._ticker.start()

    def close(self) -> None:
        """Stop the ticker, the queue triggers and the delivery workers."""
        self._ticker_stop.set()
        self.queue_triggers.close()
        self.deliveries.close()

    def jobs(self) -> list[dict[str, Any]]:
        self.tick()
        with self._lock:
            return [copy.deepcopy(j) for j in self._jobs.values()]

    def get_job(self, job_id: str) -> Optional[dict[str, Any]]:
        self.tick()
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(job) if job is not None else None

    def use_nonce(self, access_key_id: str, nonce: str) -> bool:
        """Remember a signature nonce; False when this key already used it recently."""
        now = time.time()
        with self._lock:
            # Oldest first (insertion order): expired nonces leave from the front, so a request
            # costs O(1), not a pass over every nonce seen (quadratic over a long replay).
            nonces = self._nonces
            while nonces:
                oldest = next(iter(nonces))
                if now - nonces[oldest] < NONCE_TTL_SECONDS:
                    break
                del nonces[oldest]
            key = (access_key_id, nonce)
            if key in self._nonces:
                return False
            self._nonces[key] = now
            return True

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Count one request in flight while the block runs (its injected latency included)."""
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def peak_in_flight(self, *, reset: bool = False) -> int:
        """The most requests served at the same time (since the last reset); ``reset`` starts over."""
        with self._lock:
            peak = self._peak_in_flight
            if reset:
                self._peak_in_flight = self._in_flight
            return peak

    def record_request(
        self,
        *,
        service: str,
        action: str,
        region: Optional[str],
        params: dict[str, Any],
        status: Optional[int],
        error_code: Optional[str] = None,
        access_key_id: Optional[str] = None,
        fault: Optional[Fault] = None,
    ) -> None:
        """Append to the request log (secrets dropped) and log one line for the CLI.

        ``status`` is None when no answer was sent (an injected ``reset``). With an injected
        ``fault`` the entry says what was injected (``fault``, e.g. ``error=Throttling.User/400``,
        see :meth:`vodai.emulator.faults.Fault.describe`) and by which rule (``fault_rule``, its
        spec); both are None otherwise.
        """
        summary = fault.describe() if fault is not None else None
        entry = {
            "time": utc_timestamp(time.time()),
            "service": service,
            "action": action,
            "region": region,
            "access_key_id": access_key_id,
            "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS},
            "status": status,
            "error_code": error_code,
            "fault": summary,
            "fault_rule": fault.rule.spec() if fault is not None else None,
        }
        with self._lock:
            self._requests.append(entry)
        traffic_logger.info(  # the request log keeps the entry, --quiet or not
            "%s %s region=%s status=%s%s%s",
            service,
            action or "-",
            region or "-",
            status if status is not None else "-",
            f" error={error_code}" if error_code else "",
            f" fault={summary}" if summary else "",
        )

    def requests_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._requests))

    def reset(self) -> None:
        """Forget messages, jobs, media, nonces, the request log and the delivery log (queued
        deliveries are cancelled); keep keys, topics, queues, regions, fault rules, lifecycle
        rules, callback settings and triggers (``faults.clear()``, ``lifecycle.reset()``,
        ``clear_callback()``, ``unsubscribe()`` and ``queue_triggers.remove()`` remove those).
        Queue triggers' counters start again at zero."""
        with self._lock:
            for messages in self._topics.values():
                messages.clear()
            for queue in self._queues.values():
                queue.clear()
            self._jobs.clear()
            self._timed.clear()
            self._media.clear()
            self._scrolls.clear()
            self._requests.clear()
            self._nonces.clear()
            self._queue_changed.notify_all()
            self._queue_emptied.notify_all()
        self.deliveries.clear()
        self.queue_triggers.reset_counters()

    # -- saving and loading -------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything but credentials and nonces, as JSON-compatible data (:meth:`load_state`
        takes it back). Callback auth keys are included: keep the file private."""
        with self._lock:
            data = {
                "version": STATE_VERSION,
                "default_region": self.default_region,
                "region_actions": {r: sorted(a) for r, a in self.region_actions.items()},
                "strict_media": self.strict_media,
                "param_max_lengths": dict(self.param_max_lengths),
                "account_id": self.account_id,
                "seed": self.seed_value,
                "clock": self.clock.now(),
                "topics": copy.deepcopy(self._topics),
                "queues": {name: queue.messages() for name, queue in self._queues.items()},
                "queue_sent": {name: queue.sent for name, queue in self._queues.items()},
                "queue_visibility": dict(self._queue_visibility),
                "media": copy.deepcopy(self._media),
                "jobs": copy.deepcopy(self._jobs),
                "requests": copy.deepcopy(list(self._requests)),
                "callbacks": {r: c.to_dict(secrets=True) for r, c in self._callbacks.items()},
                "triggers": [s.to_dict() for s in self._subscriptions],
            }
        data["queue_triggers"] = [t.to_dict() for t in self.queue_triggers.triggers()]
        data["lifecycle"] = [rule.to_dict() for rule in self.lifecycle.rules()]
        data["faults"] = [rule.to_dict() for rule in self.faults.rules()]
        data["delivery_settings"] = self.deliveries.settings()
        data["deliveries"] = self.deliveries.log()
        return data

    def load_state(self, data: Mapping[str, Any]) -> None:
        """Replace the state with ``data`` from :meth:`state` (credentials stay as they are).
        Everything is checked before anything changes; a bad document raises ValueError.
        The clock moves forward to the saved time if it is behind it; jobs keep their
        lifecycle plans and query counts; deliveries unfinished at save time are not resumed."""
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            raise ValueError(f"not an emulator state document (version {STATE_VERSION})")
        try:
            callbacks = {
                r: CallbackConfig(**{**c, "event_types": tuple(c["event_types"]) if c.get("event_types") else None})
                for r, c in (data.get("callbacks") or {}).items()
            }
            triggers = [Subscription.from_dict(s) for s in data.get("triggers") or []]
            queue_triggers = [QueueTrigger.from_dict(t) for t in data.get("queue_triggers") or []]
            lifecycle = [LifecycleRule.from_dict(r) for r in data.get("lifecycle") or []]
            faults = [parse_fault(r) for r in data.get("faults") or []]
            topics = {str(k): list(v) for k, v in (data.get("topics") or {}).items()}
            sent = dict(data.get("queue_sent") or {})
            queues = {str(k): MessageQueue(copy.deepcopy(list(v)), sent=sent.get(k))
                      for k, v in (data.get("queues") or {}).items()}
            queue_visibility = {str(k): int(v) for k, v in (data.get("queue_visibility") or {}).items()}
            media = {str(k): dict(v) for k, v in (data.get("media") or {}).items()}
            jobs = {str(k): dict(v) for k, v in (data.get("jobs") or {}).items()}
            region_actions = {str(r): set(a) for r, a in (data.get("region_actions") or {}).items()}
            settings = dict(data.get("delivery_settings") or {})
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"emulator state: {exc}") from None
        with self._lock:
            self.default_region = str(data.get("default_region") or self.default_region)
            if region_actions:
                self.region_actions = region_actions
            self.strict_media = bool(data.get("strict_media", False))
            self.param_max_lengths = dict(data.get("param_max_lengths") or {})
            self.account_id = str(data.get("account_id") or self.account_id)
            self._topics, self._queues = topics, queues
            self._queue_visibility = queue_visibility
            self._media, self._jobs = media, jobs
            self._index_timed()
            self._requests = deque(data.get("requests") or [], maxlen=REQUEST_LOG_SIZE)
            self._nonces.clear()
            self._callbacks = callbacks
            self._subscriptions = triggers
            self._queue_changed.notify_all()
            self._queue_emptied.notify_all()
        saved_clock = data.get("clock")
        if isinstance(saved_clock, (int, float)) and saved_clock > self.clock.now():
            self.clock.advance(saved_clock - self.clock.now())  # the emulator clock never goes back
        self.seed(data.get("seed"))
        self.lifecycle.reset()
        for rule in lifecycle:
            self.lifecycle.set(rule)
        self.faults.clear()
        self.faults.extend(faults)
        if settings:
            self.deliveries.configure(**settings)
        self.deliveries.load(list(data.get("deliveries") or []))
        self.queue_triggers.replace(queue_triggers)


def audit_complete_event(job: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The AIMediaAuditComplete event of a finished audit job, key for key as VOD's sample
    (EventTime with a colon before the milliseconds)."""
    return {
        "EventTime": event_time(now),
        "EventType": "AIMediaAuditComplete",
        "JobId": job["JobId"],
        "MediaId": job["MediaId"],
        "Status": job["Status"],
        "Code": job["Code"],
        "Message": job["Message"],
        "Data": copy.deepcopy(job.get("Data") or {}),
    }


def event_time(epoch: float) -> str:
    """``2024-04-10T01:37:14:627Z``: the EventTime style of image and AI events."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f":{moment.microsecond // 1000:03d}Z"


def _event_media_id(body: Mapping[str, Any]) -> Optional[str]:
    for key in ("VideoId", "ImageId", "AttachedMediaId", "MediaId"):
        if body.get(key):
            return str(body[key])
    return None


def _file_name(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name


def _with_extension(url: str, file_name: str) -> str:
    """``url`` whose object name takes the extension of ``file_name`` (VOD keeps the upload's)."""
    suffix = PurePosixPath(file_name).suffix
    if not suffix:
        return url
    parts = urlsplit(url)
    path = PurePosixPath(parts.path)
    return parts._replace(path=str(path.with_suffix(suffix.lower()))).geturl()
