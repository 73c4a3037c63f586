"""Running FC MNS queue triggers (:mod:`.queue_trigger`): a queue's messages, in batches of
CloudEvents, pushed to function instances, deleted only when an invocation succeeds.

Each trigger has one receiver thread, as EventBridge has one poller per source:

1. it waits until an instance has a free slot (fewer than ``concurrency`` invocations in flight);
2. it receives messages the public way (``backend.receive_from_queue`` with the trigger's visibility
   timeout, plus its batch window while the batch fills; the full timeout starts again when the
   batch goes out), sleeping on the backend's queue condition while nothing is visible (no busy
   loop), until the batch holds ``batch_size`` messages or ``batch_window`` seconds passed since
   its first;
3. it hands the batch to the next free instance (round robin) on a thread of its own, and goes on.

The invocation is ``POST <url>/invoke`` with FC's x-fc-* headers (``x-fc-retry-count``: how often
the batch's messages were received before), logged in the delivery log (``fc-queue-trigger``). A
2xx answer without ``x-fc-status: 404`` deletes every message of the batch; anything else leaves
them to become visible again after the visibility timeout, so they are retried, unless the trigger
has ``max_receives`` and a ``dead_letter_queue``: a message received that often whose invocation
failed then moves to the dead-letter queue (its body as is).

Stopping (``remove``, ``close``, ``backend.close()``) wakes the receiver at once; a batch it was
still filling becomes visible again at once; invocations in flight finish on their own threads.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol, Sequence, Union

from . import eventbridge
from .delivery import (
    DEAD_LETTERED,
    DELIVERED,
    DROPPED,
    FAILED,
    FC_QUEUE_TRIGGER,
    fc_invoke_headers,
    invocation_succeeded,
)
from .queue_trigger import QueueTrigger, parse_queue_trigger, queue_trigger

if TYPE_CHECKING:  # pragma: no cover
    from .backend import EmulatorBackend

logger = logging.getLogger("vodai.emulator")

# Seconds the receiver sleeps at most between looks at an empty queue (it is woken sooner by a send).
IDLE_WAIT = 1.0
# Seconds to wait for a receiver thread to end when its trigger stops.
STOP_TIMEOUT = 5.0


class Invoke(Protocol):
    """What invokes an instance: POST ``payload`` to ``url`` with ``headers`` and describe the
    answer as a delivery attempt (``Status``, ``FcStatus``, ``Answer`` or ``Error``)."""

    def __call__(self, url: str, payload: bytes, headers: dict[str, str], timeout: float) -> dict[str, Any]: ...


class QueueTriggers:
    """The queue triggers of one backend (``backend.queue_triggers``).

    Parameters
    ----------
    backend : EmulatorBackend
        Whose queues are polled and whose delivery log records the invocations.
    invoke : Invoke, optional
        What calls an instance; default: HTTP through ``backend.deliveries`` (tests pass a fake).
    """

    def __init__(self, backend: "EmulatorBackend", *, invoke: Optional[Invoke] = None) -> None:
        self._backend = backend
        self._invoke = invoke or self._http_invoke
        self._lock = threading.Lock()
        self._runners: dict[str, _Runner] = {}

    def _http_invoke(self, url: str, payload: bytes, headers: dict[str, str], timeout: float) -> dict[str, Any]:
        return self._backend.deliveries.invoke(url, payload, headers, number=1, timeout=timeout)

    def add(
        self, trigger: Union[QueueTrigger, str, Mapping[str, Any]], urls: Union[str, Sequence[str], None] = None,
        **settings: Any,
    ) -> QueueTrigger:
        """Start a trigger (one of the same name is stopped and replaced); its queue and
        dead-letter queue are created if missing.

        Parameters
        ----------
        trigger : QueueTrigger, str or mapping
            A setting; a spec or JSON object; or, with ``urls``, the queue's name.
        urls : str or sequence of str, optional
            The instances' base URLs, when ``trigger`` is a queue name.
        **settings
            The other :class:`QueueTrigger` fields, e.g. ``batch_size=10``.

        Returns
        -------
        QueueTrigger
            The setting started.
        """
        if urls is not None:
            trigger = queue_trigger(str(trigger), urls, **settings)
        trigger = parse_queue_trigger(trigger)
        self._backend.create_queue(trigger.queue)
        if trigger.dead_letter_queue:
            self._backend.create_queue(trigger.dead_letter_queue)
        runner = _Runner(self._backend, trigger, self._invoke)
        with self._lock:
            old = self._runners.pop(trigger.name, None)
            self._runners[trigger.name] = runner
        if old is not None:
            old.stop()
        runner.start()
        logger.info("queue trigger %s", trigger.spec())
        return trigger

    def remove(self, name: Optional[str] = None) -> int:
        """Stop and remove trigger ``name`` (None: all); returns how many were removed."""
        with self._lock:
            names = [n for n in self._runners if name is None or n == name]
            removed = [self._runners.pop(n) for n in names]
        for runner in removed:
            runner.stop()
        return len(removed)

    def replace(self, triggers: Sequence[QueueTrigger]) -> None:
        """Remove every trigger and start ``triggers`` (a loaded state's)."""
        self.remove()
        for trigger in triggers:
            self.add(trigger)

    def triggers(self) -> list[QueueTrigger]:
        with self._lock:
            return [runner.trigger for runner in self._runners.values()]

    def status(self) -> list[dict[str, Any]]:
        """Each trigger's setting, ``spec``, counters, instances and its queue's depth."""
        with self._lock:
            runners = list(self._runners.values())
        return [runner.status() for runner in runners]

    def reset_counters(self) -> None:
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.reset_counters()

    def close(self) -> None:
        """Stop every trigger (the settings stay: ``triggers()``; a later ``add`` starts one again)."""
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.stop()


class _Runner:
    """One trigger's receiver thread, its instances' slots and its counters."""

    def __init__(self, backend: "EmulatorBackend", trigger: QueueTrigger, invoke: Invoke) -> None:
        self.trigger = trigger
        self._backend = backend
        self._invoke = invoke
        self._stop = threading.Event()
        self._slots = threading.Condition()  # guards everything below
        self._in_flight = {url: 0 for url in trigger.urls}
        self._invocations = {url: 0 for url in trigger.urls}
        self._next = 0
        self._counters = dict.fromkeys(("succeeded", "failed", "deleted", "dead_lettered"), 0)
        self._error: Optional[str] = None
        self._thread = threading.Thread(target=self._run, name=f"vodai-queue-trigger-{trigger.name}", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._slots:
            self._slots.notify_all()
        self._backend.wake_queue_waiters()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(STOP_TIMEOUT)

    def status(self) -> dict[str, Any]:
        try:
            depth: Optional[dict[str, int]] = self._backend.queue_stats(self.trigger.queue)
        except KeyError:
            depth = None
        with self._slots:
            targets = [{"url": url, "in_flight": self._in_flight[url], "invocations": self._invocations[url]}
                       for url in self.trigger.urls]
            counters = dict(self._counters)
            error = self._error
        return {**self.trigger.to_dict(), "spec": self.trigger.spec(), "running": self._thread.is_alive(),
                "invocations": sum(t["invocations"] for t in targets), **counters, "targets": targets,
                "queue_depth": depth, "error": error}

    def reset_counters(self) -> None:
        with self._slots:
            self._counters = dict.fromkeys(self._counters, 0)
            self._invocations = dict.fromkeys(self._invocations, 0)

    # -- the receiver ------------------------------------------------------------------------

    def _run(self) -> None:
        while self._wait_for_slot():
            try:
                batch = self._collect()
            except KeyError:  # the queue went away (a state load): wait for it to come back
                self._note_error(f"queue {self.trigger.queue} does not exist")
                self._stop.wait(IDLE_WAIT)
                continue
            except Exception:  # pragma: no cover - a bug must not end the trigger silently
                logger.exception("queue trigger %s failed to receive", self.trigger.name)
                self._stop.wait(IDLE_WAIT)
                continue
            self._note_error(None)
            batch = self._dead_letter_overdue(batch)
            if batch:
                self._dispatch(batch)

    def _wait_for_slot(self) -> bool:
        """Block until an instance can take a batch; False once stopped."""
        limit = self.trigger.concurrency
        with self._slots:
            self._slots.wait_for(lambda: self._stop.is_set() or min(self._in_flight.values()) < limit)
        return not self._stop.is_set()

    def _collect(self) -> list[dict[str, Any]]:
        """Receive one batch: full, or the window after its first message passed ([] once stopped)."""
        trigger, backend = self.trigger, self._backend
        # Invisible while the batch fills too (then restarted for the invocation).
        invisible_for = trigger.visibility_timeout + int(trigger.batch_window + 0.999)
        batch: list[dict[str, Any]] = []
        deadline = 0.0
        while len(batch) < trigger.batch_size and not self._stop.is_set():
            got = backend.receive_from_queue(trigger.queue, trigger.batch_size - len(batch),
                                             visibility_timeout=invisible_for)
            if got:
                if not batch:
                    deadline = time.monotonic() + trigger.batch_window
                batch.extend(got)
                continue
            if batch and time.monotonic() >= deadline:
                break
            wait = deadline - time.monotonic() if batch else IDLE_WAIT
            backend.wait_for_messages(trigger.queue, wait, stop=self._stop)
        if self._stop.is_set() and batch:
            for message in batch:  # not invoked: receivable again at once
                backend.change_visibility(trigger.queue, message["ReceiptHandle"], 0)
            return []
        if trigger.batch_window and batch:
            batch = self._restart_visibility(batch)
        return batch

    def _restart_visibility(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The invocation gets the whole visibility timeout, however long the batch took to fill."""
        kept = []
        for message in batch:
            changed = self._backend.change_visibility(self.trigger.queue, message["ReceiptHandle"],
                                                      self.trigger.visibility_timeout)
            if changed is not None:  # else visible again already: its next receive takes it
                kept.append({**message, **changed})
        return kept

    def _dispatch(self, batch: list[dict[str, Any]]) -> None:
        with self._slots:
            urls = self.trigger.urls
            for offset in range(len(urls)):
                url = urls[(self._next + offset) % len(urls)]
                if self._in_flight[url] < self.trigger.concurrency:
                    self._next = (self._next + offset + 1) % len(urls)
                    break
            self._in_flight[url] += 1
            self._invocations[url] += 1
        threading.Thread(target=self._invoke_batch, args=(url, batch), daemon=True,
                         name=f"vodai-queue-trigger-{self.trigger.name}-invoke").start()

    # -- one invocation ----------------------------------------------------------------------

    def _invoke_batch(self, url: str, batch: list[dict[str, Any]]) -> None:
        trigger, backend = self.trigger, self._backend
        receives = max(m["DequeueCount"] for m in batch)
        events = eventbridge.queue_cloudevents(
            batch, queue=trigger.queue, region=trigger.region or backend.default_region,
            account_id=backend.account_id, event_bus=trigger.name, now_ms=backend.clock.now() * 1000,
        )
        body = eventbridge.payload(events)
        meta = {"Queue": trigger.queue, "Trigger": trigger.name, "Function": trigger.function_name,
                "Count": len(batch), "Attempt": receives, "MessageIds": [m["MessageId"] for m in batch]}
        invoke_url = f"{url}/invoke"
        record = backend.deliveries.start_record(FC_QUEUE_TRIGGER, invoke_url, body.decode("utf-8"), meta)
        result, extra = DROPPED, {"error": "emulator error (see its log)"}
        try:
            headers = fc_invoke_headers(trigger.function_name, region=trigger.region or backend.default_region,
                                        account_id=backend.account_id, credentials=backend.trigger_credentials,
                                        retry_count=receives - 1)
            attempt = {"Attempt": receives, "Time": eventbridge.iso_time(time.time() * 1000), "Status": None,
                       **self._invoke(invoke_url, body, headers, float(trigger.visibility_timeout))}
            attempt["Attempt"] = receives
            backend.deliveries.add_attempt(record["DeliveryId"], attempt)
            if invocation_succeeded(attempt):
                result, extra = DELIVERED, self._delete(batch)
            else:
                result, extra = self._failed(batch, attempt)
        except Exception:  # pragma: no cover - a bug must not leave the slot taken
            logger.exception("queue trigger %s: invocation of %s failed unexpectedly", trigger.name, invoke_url)
        finally:
            backend.deliveries.finish_record(record["DeliveryId"], result, **extra)
            with self._slots:
                self._in_flight[url] -= 1
                self._counters["succeeded" if result == DELIVERED else "failed"] += 1
                self._slots.notify_all()

    def _delete(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        kept = [m["MessageId"] for m in batch
                if not self._backend.delete_from_queue(self.trigger.queue, m["ReceiptHandle"])]
        with self._slots:
            self._counters["deleted"] += len(batch) - len(kept)
        if not kept:
            return {"Deleted": len(batch)}
        # The visibility timeout ended before the answer: those come again (a duplicate, skipped).
        return {"Deleted": len(batch) - len(kept), "NotDeleted": kept}

    def _failed(self, batch: list[dict[str, Any]], attempt: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        trigger = self.trigger
        answer = f"HTTP {attempt['Status']}" if attempt.get("Status") is not None else (attempt.get("Error") or "no answer")
        if attempt.get("FcStatus") == "404":
            answer += " (x-fc-status: 404, the function failed)"
        limit = trigger.max_receives
        moved = self._move_to_dead_letters([m for m in batch if limit is not None and m["DequeueCount"] >= limit])
        extra: dict[str, Any] = {"error": f"{answer}; the messages are received again after "
                                          f"{trigger.visibility_timeout} s (visibility timeout)"}
        if moved:
            extra["DeadLettered"] = moved
            if len(moved) == len(batch):
                return DEAD_LETTERED, {"error": f"{answer}; received {limit} times: moved to {trigger.dead_letter_queue}",
                                       "DeadLettered": moved}
        return FAILED, extra

    def _dead_letter_overdue(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Move messages received more than ``max_receives`` times (a receive that never became an
        invocation, e.g. a stop) without invoking; the rest of the batch goes on."""
        limit = self.trigger.max_receives
        if limit is None:
            return batch
        overdue = [m for m in batch if m["DequeueCount"] > limit]
        self._move_to_dead_letters(overdue)
        return [m for m in batch if m["DequeueCount"] <= limit]

    def _move_to_dead_letters(self, messages: list[dict[str, Any]]) -> list[str]:
        """Delete each message, then send its body to the dead-letter queue (deleted first: a
        message whose visibility ended meanwhile is left to its next receive, never copied twice)."""
        moved = []
        target = self.trigger.dead_letter_queue
        for message in messages:
            if target is None or not self._backend.has_queue(target):
                break
            if self._backend.delete_from_queue(self.trigger.queue, message["ReceiptHandle"]):
                self._backend.send_to_queue(target, message["MessageBody"])
                moved.append(message["MessageId"])
        with self._slots:
            self._counters["dead_lettered"] += len(moved)
        return moved

    def _note_error(self, error: Optional[str]) -> None:
        with self._slots:
            if error and error != self._error:
                logger.warning("queue trigger %s: %s", self.trigger.name, error)
            self._error = error


__all__ = ["IDLE_WAIT", "Invoke", "QueueTriggers"]
