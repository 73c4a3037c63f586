"""The fan-out loop: items in batches, at a bounded rate, through an outbox; a report of what happened."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

from .outbox import MAX_BATCH, BatchSender, Outbox, open_outbox, taken

log = logging.getLogger("vodai.fanout")


@dataclass
class FanOutReport:
    """What a fan-out did: counts, the failures (id, reason) and how long it took."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0  # already sent by an earlier run (checkpoint)
    resent: int = 0  # of those sent: pending when an earlier run stopped, sent again
    failures: List[Tuple[str, str]] = field(default_factory=list)
    elapsed: float = 0.0
    interrupted: bool = False  # stopped by a signal after the batch in flight

    @property
    def rate(self) -> float:
        """Messages sent per second."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "skipped": self.skipped, "resent": self.resent,
                "rate": round(self.rate, 1), "elapsed": round(self.elapsed, 3), "interrupted": self.interrupted,
                "failures": [{"id": i, "reason": r} for i, r in self.failures]}


def fan_out(
    items: Iterable[Tuple[str, str]],
    *,
    sender: Optional[BatchSender] = None,
    queue: Optional[str] = None,
    outbox: Optional[Outbox] = None,
    rate: Optional[float] = None,
    checkpoint: Optional[Path] = None,
    progress: Optional[Callable[[FanOutReport], None]] = None,
    settled: Optional[Callable[[List[str]], None]] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Optional[Callable[[float], object]] = None,
) -> FanOutReport:
    """Send every item's body to a queue, in batches of at most 16.

    Parameters
    ----------
    items
        ``(item_id, body)`` pairs, read as they are sent (a generator is never read ahead of the
        batch being formed); the id is what the checkpoint records (unique per item), the body
        the message text. An id seen twice is sent once.
    sender, queue
        Where to send, when no ``outbox`` is given: ``sender.batch_send(queue, bodies)`` returns
        one dict per body, ``MessageId`` when sent, ``ErrorCode``/``ErrorMessage`` when refused
        (:class:`vodai.clients.mns.MnsQueueClient`).
    outbox
        An open :class:`Outbox` (:func:`open_outbox`), e.g. detached; closed on return.
    rate
        At most this many messages per second (None or 0: unlimited).
    checkpoint
        Without ``outbox``: a file recording progress (:class:`vodai.fanout.Checkpoint`); an
        interrupted run given the same file resumes without sending again what was sent.
    progress
        Called with the report so far after each batch.
    settled
        Called with the ids that are in the queue (sent now, or by an earlier run), batch by
        batch: e.g. to delete the messages a drain moved.
    clock, sleep
        Time, injected for tests (default sleep: a wait that a stop signal ends).

    Returns
    -------
    FanOutReport
        The counts; ``failures`` names each item not sent and why; ``interrupted`` when SIGINT
        or SIGTERM stopped it (after the batch in flight was sent and recorded).
    """
    if outbox is None:
        if sender is None or queue is None:
            raise TypeError("fan_out needs an outbox, or a sender and a queue")
        outbox = open_outbox(sender, queue, checkpoint=checkpoint)
    report = FanOutReport()
    done: Set[str] = set(outbox.sent)
    stop = threading.Event()
    wait = sleep or stop.wait
    interval = 1.0 / rate if rate else 0.0
    started = clock()
    next_at = started
    try:
        with _stop_on_signals(stop):
            for batch in _batches(items, done, report, settled):
                if interval:
                    pause = next_at - clock()
                    if pause > 0:
                        wait(pause)
                    next_at = max(next_at, clock() - interval) + interval * len(batch)
                if stop.is_set():
                    report.interrupted = True
                    break
                ids = [item_id for item_id, _ in batch]
                results = outbox.send(ids, [body for _, body in batch])
                sent = taken(ids, results)
                for item_id, result in zip(ids, results, strict=True):
                    if not result.get("MessageId"):
                        report.failures.append((item_id, f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"))
                done.update(sent)
                report.sent += len(sent)
                report.resent += len(outbox.uncertain.intersection(sent))
                report.failed += len(batch) - len(sent)
                report.elapsed = clock() - started
                if settled is not None and sent:
                    settled(sent)
                if progress is not None:
                    progress(report)
                if stop.is_set():
                    report.interrupted = True
                    break
    finally:
        report.elapsed = clock() - started
        outbox.close()
    return report


def _batches(items: Iterable[Tuple[str, str]], done: Set[str], report: FanOutReport,
             settled: Optional[Callable[[List[str]], None]]) -> Iterator[List[Tuple[str, str]]]:
    batch: List[Tuple[str, str]] = []
    seen: Set[str] = set()
    already: List[str] = []  # sent by an earlier run: settled as they come, in batches
    for item_id, body in items:
        if item_id in done or item_id in seen:
            report.skipped += 1
            if item_id in done and item_id not in seen and settled is not None:
                already.append(item_id)
                if len(already) == MAX_BATCH:
                    settled(already)
                    already = []
            seen.add(item_id)
            continue
        seen.add(item_id)
        batch.append((item_id, body))
        if len(batch) == MAX_BATCH:
            yield batch
            batch = []
    if already and settled is not None:
        settled(already)
    if batch:
        yield batch


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the loop ends after the batch in flight); a second
    SIGINT raises KeyboardInterrupt at once. Only in the main thread (signals go there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        log.warning("stopping after the batch in flight (Ctrl-C again to stop at once)")

    previous: Mapping[int, Any] = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
