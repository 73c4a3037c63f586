"""Draining an MNS queue (``vodai replay mns-queue://NAME``): receive, run, delete what settled.

Each received message is one item (its body an event, or a dead letter whose event is replayed).
A message is deleted only once its item reached a final outcome (submitted, skipped,
dead-lettered); one whose outcome is a retryable failure is left in the queue, and becomes
visible again when its visibility timeout ends (or ``retry_delay`` seconds from now, by
ChangeMessageVisibility). A message received again in the same drain (it came back after a
failure) is not run a second time: the drain stops when a receive brings nothing new.

Draining the dead-letter queue itself (``VODAI_DEAD_LETTERS=mns-queue://NAME``, a cloud target):
an event dead-lettered again would be sent back into the queue being drained, and received again
as a new message, for ever. :func:`keep_dead_letters_in` makes the target's dead letters stay
where they are instead: the item ends ``failed`` (its reason says so), its message is not deleted
and becomes visible again later, with its first reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Protocol, Sequence, Set

from ..deadletter import DeadLetter, DeadLetterSink
from ..exceptions import DeadLetterError
from .queues import QUEUE_SCHEME
from .report import needs_retry
from .runner import ItemResult, Runner
from .sources import Item, item_from_bytes

log = logging.getLogger("vodai.replay")

#: Messages received per request (MNS's BatchReceiveMessage takes at most 16).
RECEIVE_BATCH = 16


class QueueClient(Protocol):
    def receive(self, queue: str, count: int = ..., *, wait_seconds: Optional[int] = ...) -> List[dict]: ...

    def delete(self, queue: str, receipt_handles: Sequence[str]) -> List[dict]: ...

    def change_visibility(self, queue: str, receipt_handle: str, seconds: int) -> dict: ...


@dataclass
class DrainReport:
    """The drain's results (for the replay summary) and what happened to the messages."""

    results: List[ItemResult] = field(default_factory=list)
    deleted: int = 0  # settled: deleted from the queue
    kept: int = 0  # a retryable failure: left in the queue, visible again later
    not_deleted: List[str] = field(default_factory=list)  # settled, but the delete failed (MessageIds)


def drain_queue(client: QueueClient, queue: str, runner: Runner, *, retry_delay: Optional[int] = None,
                limit: Optional[int] = None,
                on_result: Optional[Callable[[ItemResult], None]] = None) -> DrainReport:
    """Run every message of ``queue`` through ``runner``; delete each that settled.

    Parameters
    ----------
    client
        The queue client (:class:`vodai.clients.mns.MnsQueueClient`).
    queue
        The queue's name.
    runner
        Runs each batch of items (:class:`Runner`).
    retry_delay
        Seconds after which a message that failed is visible again (ChangeMessageVisibility);
        None leaves it to the queue's visibility timeout.
    limit
        Stop after this many messages (None: until the queue has nothing new).
    on_result
        Called with each item's result.

    Returns
    -------
    DrainReport
    """
    report = DrainReport()
    seen: Set[str] = set()
    while limit is None or len(seen) < limit:
        count = RECEIVE_BATCH if limit is None else min(RECEIVE_BATCH, limit - len(seen))
        messages = [m for m in client.receive(queue, count) if m.get("MessageId") not in seen]
        if not messages:
            break
        seen.update(m["MessageId"] for m in messages)
        items = [_item(queue, m) for m in messages]
        results = runner.run(items, on_result=on_result)
        settled = []
        for message, result in zip(messages, results, strict=True):
            report.results.append(result)
            if needs_retry(result):
                report.kept += 1
                if retry_delay is not None:
                    _change_visibility(client, queue, message, retry_delay)
            else:
                settled.append(message)
        if settled:
            failed = client.delete(queue, [m["ReceiptHandle"] for m in settled])
            failed_handles = {f.get("ReceiptHandle") for f in failed}
            for message in settled:
                if message["ReceiptHandle"] in failed_handles:
                    report.not_deleted.append(message["MessageId"])
                    log.warning("mns-queue://%s: message %s settled but could not be deleted (its visibility "
                                "timeout ended first): it will be replayed again, as a duplicate", queue,
                                message["MessageId"])
                else:
                    report.deleted += 1
        if runner.interrupted:
            break
    return report


class LeftInDrainedQueue(DeadLetterSink):
    """The dead-letter sink of a drain of the dead-letter queue: writes nothing, so that the
    message being drained stays (see the module docstring)."""

    def __init__(self, queue: str) -> None:
        self.queue = queue

    def write(self, letter: DeadLetter, secrets: Iterable[str] = ()) -> str:
        raise DeadLetterError(f"mns-queue://{self.queue} is the queue being drained: the message stays there "
                              f"(visible again later) instead of coming back as a new one")

    def describe(self) -> str:
        return f"left in mns-queue://{self.queue}"


def keep_dead_letters_in(target: Any, queue: str) -> bool:
    """When ``target`` dead-letters into ``queue`` (``VODAI_DEAD_LETTERS=mns-queue://QUEUE`` on the
    configured MNS, not the in-process emulator's), make its dead letters stay in the drained
    queue (:class:`LeftInDrainedQueue`); returns whether it did."""
    if getattr(target, "backend", None) is not None:  # the in-process emulator: its queues are its own
        return False
    if (target.settings.dead_letters or "").strip() != f"{QUEUE_SCHEME}{queue}":
        return False
    target.dead_letters = LeftInDrainedQueue(queue)
    return True


def _item(queue: str, message: dict) -> Item:
    return item_from_bytes(f"mns-queue://{queue}#{message.get('MessageId')}", message.get("MessageBody", "").encode("utf-8"))


def _change_visibility(client: QueueClient, queue: str, message: dict, seconds: int) -> None:
    try:
        client.change_visibility(queue, message["ReceiptHandle"], seconds)
    except Exception as exc:  # the message comes back after the visibility timeout anyway
        log.warning("mns-queue://%s: message %s: ChangeMessageVisibility failed: %s", queue, message["MessageId"], exc)
