"""The delivery worker: everything the emulated VOD and MNS send out on their own.

Deliveries never run on the request (or the ``backend.upload`` call) that caused them: each is
queued and run by a small pool of daemon threads, started on first use. Every attempt and the
final result are written to the delivery log (``backend.deliveries.log()``,
``GET /_emulator/deliveries``); auth keys and credentials are never written there.

Kinds of delivery, and the rules each follows:

``http-callback``
    VOD's HTTP callback: ``POST <url>``, body = the event JSON, ``Content-Type:
    application/json``, with ``X-VOD-TIMESTAMP`` / ``X-VOD-SIGNATURE`` (= md5 of
    ``"<url>|<timestamp>|<auth key>"``) when an auth key is set. Only HTTP 200 within
    ``http_timeout`` (5 s) counts; otherwise ``http_attempts - 1`` (2) more tries
    ``http_retry_interval`` (1 s) apart, then the event is dropped.
``mns-queue`` / ``mns-topic``
    the event JSON becomes a message in one of the emulator's queues or topics (a topic then
    runs its triggers). Dropped if the queue or topic does not exist.
``fc-trigger``
    an FC MNS topic trigger: ``POST <url>/invoke`` of a ``vodai serve`` shim, ``Content-Type:
    application/octet-stream``, with the ``x-fc-*`` headers FC sends (request id, function
    name, the emulator's credentials as the service role's, region, account). Body: STREAM =
    the message body as is (``{"body", "attrs"}`` when it has attributes); JSON =
    ``{"TopicOwner", "Message", "Subscriber", "PublishTime", "SubscriptionName",
    "MessageMD5", "TopicName", "MessageId"}``. BACKOFF_RETRY: ``trigger_attempts`` (3) tries,
    ``trigger_retry_interval`` apart (FC: 10 to 20 s, drawn; a number or a (low, high) pair).
    A non-2xx answer, an answer with ``x-fc-status: 404`` (the shim's failed invocation) or no
    answer is a failure.
``fc-queue-trigger``
    one batch invocation of an FC MNS queue trigger (:mod:`.queue_poller`, which runs it on its
    own threads and logs it here): same request and success rule as ``fc-trigger``, body = a
    list of CloudEvents (:mod:`.eventbridge`). One attempt per record (``Attempt`` = how often
    the batch's messages were received); the record says ``Queue``, ``Trigger``, ``Count``,
    ``MessageIds``, and ends ``delivered`` (messages deleted), ``failed`` (received again after
    the visibility timeout) or ``dead-lettered`` (moved to the trigger's dead-letter queue).

``wait()`` blocks until nothing is queued or running: tests wait for it instead of sleeping.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from vodai.signing.callback import callback_signature

from .callbacks import JSON_FORMAT, Subscription

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from .backend import Credentials, EmulatorBackend

HTTP_CALLBACK, MNS_QUEUE, MNS_TOPIC, FC_TRIGGER = "http-callback", "mns-queue", "mns-topic", "fc-trigger"
FC_QUEUE_TRIGGER = "fc-queue-trigger"
PENDING, DELIVERED, DROPPED = "pending", "delivered", "dropped"
# A queue trigger's batch that failed: its messages are received again, or were dead-lettered.
FAILED, DEAD_LETTERED = "failed", "dead-lettered"
USER_AGENT = "vodai-emulator (ApsaraVideo VOD callback)"
_ANSWER_CHARS = 4000  # of each answer body, kept in the delivery log

logger = logging.getLogger("vodai.emulator")
# The lines of routine traffic: one per VOD or MNS request (the backend's) and one per delivery that
# got through; ``vodai emulator --quiet`` turns them off. Failed and dropped deliveries stay on ``logger``.
traffic_logger = logging.getLogger("vodai.emulator.traffic")


def _iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Deliveries:
    """Queue, workers and log of one backend's outgoing deliveries (``backend.deliveries``)."""

    def __init__(self, backend: "EmulatorBackend", *, workers: int = 8) -> None:
        self._backend = backend
        self._workers = workers
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: "queue.Queue[Optional[tuple[int, str, Callable[[str, int], None]]]]" = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._log: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}
        self._pending = 0
        self._generation = 0
        self._closed = threading.Event()
        self._session: Optional["requests.Session"] = None
        self._rng = random.Random()
        # VOD's HTTP-callback rules.
        self.http_timeout = 5.0
        self.http_attempts = 3
        self.http_retry_interval = 1.0
        # The FC MNS topic trigger's BACKOFF_RETRY.
        self.trigger_timeout = 60.0
        self.trigger_attempts = 3
        self.trigger_retry_interval: Union[float, tuple[float, float]] = (10.0, 20.0)

    # -- settings --------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        interval = self.trigger_retry_interval
        return {
            "http_timeout": self.http_timeout,
            "http_attempts": self.http_attempts,
            "http_retry_interval": self.http_retry_interval,
            "trigger_timeout": self.trigger_timeout,
            "trigger_attempts": self.trigger_attempts,
            "trigger_retry_interval": list(interval) if isinstance(interval, tuple) else interval,
        }

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change the settings above (unknown names and bad values raise ValueError)."""
        for name, value in settings.items():
            if name not in self.settings():
                raise ValueError(f"unknown delivery setting {name!r}: use {', '.join(self.settings())}")
            if name == "trigger_retry_interval":
                value = retry_interval(value)
            elif name.endswith("attempts"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"{name}: a whole number >= 1")
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{name}: a number of seconds >= 0")
                value = float(value)
            setattr(self, name, value)
        return self.settings()

    @property
    def session(self) -> "requests.Session":
        """The HTTP client deliveries use (no proxies from the environment, no retries of its own)."""
        if self._session is None:
            import requests

            session = requests.Session()
            session.trust_env = False
            self._session = session
        return self._session

    @session.setter
    def session(self, value: "requests.Session") -> None:
        self._session = value

    # -- queueing --------------------------------------------------------------------------

    def _record(self, kind: str, target: str, body: str, meta: dict[str, Any]) -> dict[str, Any]:
        record = {
            "DeliveryId": uuid.uuid4().hex.upper(),
            "Kind": kind,
            "Target": target,
            **meta,
            "Body": body,
            "Queued": _iso_now(),
            "Attempts": [],
            "Result": PENDING,
        }
        return record

    def _enqueue(self, record: dict[str, Any], task: Callable[[str, int], None]) -> dict[str, Any]:
        with self._lock:
            self._log.append(record)
            self._by_id[record["DeliveryId"]] = record
            self._pending += 1
            generation = self._generation
            self._start_workers()
            snapshot = copy.deepcopy(record)
        self._queue.put((generation, record["DeliveryId"], task))
        return snapshot

    def _start_workers(self) -> None:  # lock held
        self._closed.clear()  # a closed backend that is used again starts new workers
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name="vodai-emulator-delivery", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            generation, delivery_id, task = item
            try:
                if self._current(generation):
                    task(delivery_id, generation)
            except Exception:  # pragma: no cover - a bug must not kill the worker
                logger.exception("delivery %s failed unexpectedly", delivery_id)
                self._finish(delivery_id, DROPPED, error="emulator error (see its log)")
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation and not self._closed.is_set()

    def _attempt(self, delivery_id: str, attempt: dict[str, Any]) -> None:
        with self._lock:
            record = self._by_id.get(delivery_id)
            if record is not None:
                record["Attempts"].append(attempt)

    def _finish(self, delivery_id: str, result: str, **extra: Any) -> None:
        with self._lock:
            record = self._by_id.get(delivery_id)
            if record is not None:
                record["Result"] = result
                record["Finished"] = _iso_now()
                record.update({k.capitalize() if k.islower() else k: v for k, v in extra.items()})
        if record is not None:
            (traffic_logger if result == DELIVERED else logger).info(
                "delivery %s %s -> %s%s",
                record["Kind"],
                record["Target"],
                result,
                f" ({len(record['Attempts'])} attempt(s))" if record["Attempts"] else "",
            )

    def _pause(self, seconds: float, generation: int) -> bool:
        """Wait between attempts; False when the delivery was cancelled meanwhile."""
        if seconds > 0:
            self._closed.wait(seconds)
        return self._current(generation)

    # -- public ----------------------------------------------------------------------------

    def http_callback(
        self, url: str, auth_key: Optional[str], body: str, meta: dict[str, Any]
    ) -> dict[str, Any]:
        """Queue VOD's HTTP callback of one event (``body``: its JSON)."""
        record = self._record(HTTP_CALLBACK, url, body, {**meta, "Signed": auth_key is not None})

        def task(delivery_id: str, generation: int) -> None:
            data = body.encode("utf-8")
            for number in range(1, self.http_attempts + 1):
                headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
                if auth_key:
                    timestamp = str(int(time.time()))
                    headers["X-VOD-TIMESTAMP"] = timestamp
                    headers["X-VOD-SIGNATURE"] = callback_signature(url, timestamp, auth_key)
                attempt = self._post(url, data, headers, self.http_timeout, number)
                self._attempt(delivery_id, attempt)
                if attempt["Status"] == 200:
                    self._finish(delivery_id, DELIVERED)
                    return
                if number < self.http_attempts and not self._pause(self.http_retry_interval, generation):
                    return
            self._finish(delivery_id, DROPPED, error="no HTTP 200 within the attempts (VOD drops the event)")

        return self._enqueue(record, task)

    def to_mns(self, target: str, name: str, body: str, meta: dict[str, Any]) -> dict[str, Any]:
        """Queue the delivery of one event into queue or topic ``name`` (``target``)."""
        kind = MNS_QUEUE if target == "queue" else MNS_TOPIC
        record = self._record(kind, name, body, meta)

        def task(delivery_id: str, generation: int) -> None:
            try:
                if kind == MNS_QUEUE:
                    message = self._backend.send_to_queue(name, body)
                else:
                    message = self._backend.publish(name, body, None)
            except KeyError:
                code = "QueueNotExist" if kind == MNS_QUEUE else "TopicNotExist"
                self._attempt(delivery_id, {"Attempt": 1, "Time": _iso_now(), "Status": None, "Error": code})
                self._finish(delivery_id, DROPPED, error=f"{code}: {name}")
                return
            self._attempt(
                delivery_id, {"Attempt": 1, "Time": _iso_now(), "Status": None, "MessageId": message["MessageId"]}
            )
            self._finish(delivery_id, DELIVERED, MessageId=message["MessageId"])

        return self._enqueue(record, task)

    def trigger(
        self,
        subscription: Subscription,
        message: dict[str, Any],
        *,
        credentials: Optional["Credentials"],
        region: str,
        account_id: str,
    ) -> dict[str, Any]:
        """Queue one FC topic-trigger invocation of ``subscription`` for a published ``message``."""
        payload = trigger_payload(subscription, message, account_id)
        meta = {
            "Topic": subscription.topic,
            "Subscription": subscription.name,
            "Function": subscription.function_name,
            "Format": subscription.format,
            "MessageId": message["MessageId"],
        }
        record = self._record(FC_TRIGGER, subscription.invoke_url, payload.decode("utf-8"), meta)

        def task(delivery_id: str, generation: int) -> None:
            for number in range(1, self.trigger_attempts + 1):
                headers = fc_invoke_headers(
                    subscription.function_name, region=region, account_id=account_id,
                    credentials=credentials, retry_count=number - 1,
                )
                attempt = self.invoke(subscription.invoke_url, payload, headers, number=number)
                self._attempt(delivery_id, attempt)
                if invocation_succeeded(attempt):
                    self._finish(delivery_id, DELIVERED)
                    return
                if number < self.trigger_attempts and not self._pause(self._trigger_pause(), generation):
                    return
            self._finish(delivery_id, DROPPED, error="the function failed every attempt (BACKOFF_RETRY)")

        return self._enqueue(record, task)

    def invoke(
        self, url: str, payload: bytes, headers: dict[str, str], *, number: int, timeout: Optional[float] = None
    ) -> dict[str, Any]:
        """POST one event invocation to a shim's ``url`` (``.../invoke``) and describe it as a
        delivery attempt: ``Attempt``, ``Time``, ``Status`` (None without an answer), ``FcStatus``,
        ``Answer`` or ``Error``, and ``RequestId``. ``timeout``: seconds (default
        ``trigger_timeout``)."""
        attempt = self._post(url, payload, headers, self.trigger_timeout if timeout is None else timeout, number)
        attempt["RequestId"] = headers.get("x-fc-request-id")
        return attempt

    # -- deliveries run elsewhere (queue triggers), logged here --------------------------------

    def start_record(self, kind: str, target: str, body: str, meta: dict[str, Any]) -> dict[str, Any]:
        """Log a delivery that the caller runs itself; it counts as pending (:meth:`wait`) until
        :meth:`finish_record`, which the caller must call. Returns a copy of the record."""
        record = self._record(kind, target, body, meta)
        with self._lock:
            self._log.append(record)
            self._by_id[record["DeliveryId"]] = record
            self._pending += 1
            return copy.deepcopy(record)

    def add_attempt(self, delivery_id: str, attempt: dict[str, Any]) -> None:
        """Append an attempt (as :meth:`invoke` describes it) to a started record."""
        self._attempt(delivery_id, attempt)

    def finish_record(self, delivery_id: str, result: str, **extra: Any) -> None:
        """End a record from :meth:`start_record` with ``result`` and extra fields."""
        try:
            self._finish(delivery_id, result, **extra)
        finally:
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()

    def _trigger_pause(self) -> float:
        interval = self.trigger_retry_interval
        if isinstance(interval, tuple):
            with self._lock:
                return self._rng.uniform(*interval)
        return float(interval)

    def _post(
        self, url: str, data: bytes, headers: dict[str, str], timeout: float, number: int
    ) -> dict[str, Any]:
        import requests

        attempt: dict[str, Any] = {"Attempt": number, "Time": _iso_now(), "Status": None}
        try:
            response = self.session.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            attempt["Error"] = type(exc).__name__
            return attempt
        attempt["Status"] = response.status_code
        fc_status = response.headers.get("x-fc-status")
        if fc_status is not None:
            attempt["FcStatus"] = fc_status
        attempt["Answer"] = response.text[:_ANSWER_CHARS]
        return attempt

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._log)

    def get(self, delivery_id: str) -> Optional[dict[str, Any]]:
        with self._lock:
            record = self._by_id.get(delivery_id)
            return copy.deepcopy(record) if record is not None else None

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def wait(self, timeout: Optional[float] = 30.0) -> bool:
        """Block until nothing is queued or running; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    def clear(self) -> None:
        """Forget the log and cancel what is queued or waiting to retry."""
        with self._lock:
            self._generation += 1
            self._log.clear()
            self._by_id.clear()

    def load(self, records: list[dict[str, Any]]) -> None:
        """Replace the log (state load): unfinished records are marked dropped, not resumed."""
        with self._lock:
            self._generation += 1
            self._log = copy.deepcopy(records)
            for record in self._log:
                if record.get("Result") == PENDING:
                    record["Result"] = DROPPED
                    record["Error"] = "the emulator stopped before this delivery finished"
            self._by_id = {r["DeliveryId"]: r for r in self._log if "DeliveryId" in r}

    def close(self) -> None:
        """Stop the workers (pending deliveries are abandoned)."""
        self._closed.set()
        with self._lock:
            self._generation += 1
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)


def retry_interval(value: Any) -> Union[float, tuple[float, float]]:
    """A trigger retry interval: seconds, ``"LOW-HIGH"``, or a (low, high) pair."""
    if isinstance(value, str):
        low_text, dash, high_text = value.partition("-")
        try:
            value = (float(low_text), float(high_text)) if dash else float(low_text)
        except ValueError:
            raise ValueError(f"retry interval {value!r}: SECONDS or LOW-HIGH") from None
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError("retry interval: a (low, high) pair")
        low, high = (float(v) for v in value)
        if not 0 <= low <= high:
            raise ValueError("retry interval: 0 <= low <= high")
        return (low, high)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("retry interval: seconds >= 0")
    return float(value)


def fc_invoke_headers(
    function_name: str,
    *,
    region: str,
    account_id: str,
    credentials: Optional["Credentials"],
    retry_count: int = 0,
) -> dict[str, str]:
    """The headers FC sends a custom runtime's ``/invoke`` with an event: a new request id, the
    function, region and account, the service role's credentials and the retry count."""
    headers = {
        "Content-Type": "application/octet-stream",
        "x-fc-request-id": str(uuid.uuid4()),
        "x-fc-function-name": function_name,
        "x-fc-region": region,
        "x-fc-account-id": account_id,
        "x-fc-retry-count": str(retry_count),
    }
    if credentials is not None:
        headers["x-fc-access-key-id"] = credentials.access_key_id
        headers["x-fc-access-key-secret"] = credentials.access_key_secret
        if credentials.security_token:
            headers["x-fc-security-token"] = credentials.security_token
    return headers


def invocation_succeeded(attempt: dict[str, Any]) -> bool:
    """A 2xx answer that is not the shim's failed invocation (``x-fc-status: 404``)."""
    status = attempt.get("Status")
    return status is not None and 200 <= status < 300 and attempt.get("FcStatus") != "404"


def trigger_payload(subscription: Subscription, message: dict[str, Any], account_id: str) -> bytes:
    """The bytes an FC MNS topic trigger sends the function for ``message``."""
    body = message["MessageBody"]
    if subscription.format == JSON_FORMAT:
        envelope = {
            "TopicOwner": account_id,
            "Message": body,
            "Subscriber": account_id,
            "PublishTime": message["PublishTime"],
            "SubscriptionName": subscription.name,
            "MessageMD5": message["MessageBodyMD5"],
            "TopicName": subscription.topic,
            "MessageId": message["MessageId"],
        }
        return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    attributes = message.get("MessageAttributes")
    if attributes:
        wrapped = {"body": body, "attrs": attributes}
        return json.dumps(wrapped, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return body.encode("utf-8")


__all__ = [
    "DEAD_LETTERED",
    "DELIVERED",
    "DROPPED",
    "Deliveries",
    "FAILED",
    "FC_QUEUE_TRIGGER",
    "FC_TRIGGER",
    "HTTP_CALLBACK",
    "MNS_QUEUE",
    "MNS_TOPIC",
    "PENDING",
    "fc_invoke_headers",
    "invocation_succeeded",
    "retry_interval",
    "trigger_payload",
]
