"""Fan-out: send events to the MNS queue that triggers ``on_upload`` instead of running them here.

    report = fan_out(((item_id, body) for ...), sender=MnsQueueClient(...), queue="vodai-events",
                     rate=500, checkpoint=Path("backfill.checkpoint"))

Items go out in batches of at most 16 (what MNS's BatchSendMessage takes), ``rate`` bounds the
messages per second, and ``checkpoint`` (a file) makes an interrupted run resumable:

- before a batch is sent its ids are appended as ``{"pending": [...]}``, and once MNS has answered,
  the ids it took as ``{"sent": [...]}``; each line is fsync'd before the run goes on.
- a run that finds the file skips every id recorded as sent. A batch recorded as pending but never
  as sent is the one a run was killed in the middle of: whether MNS stored it is unknown, so it is
  sent again and counted in :attr:`FanOutReport.resent` (``on_upload``'s idempotency store turns
  those copies into duplicates skipped, never a second job). Anything else is sent once.

Items MNS refused (an ``ErrorCode`` in the batch answer, or a failed request) are counted as
failed, not recorded as sent: the next run with the same checkpoint sends them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Protocol, Sequence, Set, Tuple

#: MNS's BatchSendMessage takes at most 16 messages.
MAX_BATCH = 16


class BatchSender(Protocol):
    def batch_send(self, queue: str, bodies: Sequence[str]) -> List[dict]: ...


@dataclass
class FanOutReport:
    """What a fan-out did: counts, the failures (id, reason) and how long it took."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0  # already sent by an earlier run (checkpoint)
    resent: int = 0  # of those sent: pending when an earlier run stopped, sent again
    failures: List[Tuple[str, str]] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Messages sent per second."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "skipped": self.skipped, "resent": self.resent,
                "rate": round(self.rate, 1), "elapsed": round(self.elapsed, 3),
                "failures": [{"id": i, "reason": r} for i, r in self.failures]}


class Checkpoint:
    """The append-only record of a fan-out's progress (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.sent: Set[str] = set()
        self.uncertain: Set[str] = set()  # pending in an earlier run, never recorded as sent
        pending: Set[str] = set()
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # the torn last line of a run killed while writing it
                if isinstance(record, dict):
                    pending.update(record.get("pending") or ())
                    self.sent.update(record.get("sent") or ())
        self.uncertain = pending - self.sent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        if self._file.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
            self._append("")  # end a torn line, so the next record starts on its own

    def pending(self, ids: Sequence[str]) -> None:
        self._append(json.dumps({"pending": list(ids)}, ensure_ascii=False))

    def done(self, ids: Sequence[str]) -> None:
        self.sent.update(ids)
        self._append(json.dumps({"sent": list(ids)}, ensure_ascii=False))

    def _append(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def fan_out(
    items: Iterable[Tuple[str, str]],
    *,
    sender: BatchSender,
    queue: str,
    rate: Optional[float] = None,
    checkpoint: Optional[Path] = None,
    progress: Optional[Callable[[FanOutReport], None]] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> FanOutReport:
    """Send every item's body to ``queue``, in batches of at most 16.

    Parameters
    ----------
    items
        ``(item_id, body)`` pairs; the id is what the checkpoint records (unique per item), the
        body the message text (an event as VOD would have sent it).
    sender
        Has ``batch_send(queue, bodies)``, returning one dict per body: ``MessageId`` when sent,
        ``ErrorCode``/``ErrorMessage`` when refused (:class:`vodai.clients.mns.MnsQueueClient`).
    queue
        The queue's name.
    rate
        At most this many messages per second (None or 0: unlimited).
    checkpoint
        A file recording progress; an interrupted run given the same file resumes without
        sending again what was sent.
    progress
        Called with the report so far after each batch.
    clock, sleep
        Time, injected for tests.

    Returns
    -------
    FanOutReport
        The counts; ``failures`` names each item not sent and why.
    """
    report = FanOutReport()
    record = Checkpoint(checkpoint) if checkpoint is not None else None
    done: Set[str] = set(record.sent) if record is not None else set()
    uncertain = record.uncertain if record is not None else set()
    interval = 1.0 / rate if rate else 0.0
    started = clock()
    next_at = started
    try:
        for batch in _batches(items, done, report):
            if interval:
                wait = next_at - clock()
                if wait > 0:
                    sleep(wait)
                next_at = max(next_at, clock() - interval) + interval * len(batch)
            ids = [item_id for item_id, _ in batch]
            if record is not None:
                record.pending(ids)
            try:
                results = sender.batch_send(queue, [body for _, body in batch])
            except Exception as exc:  # the whole request failed: the next run sends the batch
                results = [{"ErrorCode": type(exc).__name__, "ErrorMessage": str(exc)}] * len(batch)
            if len(results) != len(batch):
                results = [{"ErrorCode": "BadAnswer", "ErrorMessage": f"{len(results)} results for {len(batch)} messages"}] * len(batch)
            sent = [i for i, r in zip(ids, results, strict=True) if r.get("MessageId")]
            for item_id, result in zip(ids, results, strict=True):
                if not result.get("MessageId"):
                    report.failures.append((item_id, f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"))
            if record is not None and sent:
                record.done(sent)
            done.update(sent)
            report.sent += len(sent)
            report.resent += len(uncertain.intersection(sent))
            report.failed += len(batch) - len(sent)
            report.elapsed = clock() - started
            if progress is not None:
                progress(report)
    finally:
        report.elapsed = clock() - started
        if record is not None:
            record.close()
    return report


def _batches(items: Iterable[Tuple[str, str]], done: Set[str], report: FanOutReport) -> Iterator[List[Tuple[str, str]]]:
    batch: List[Tuple[str, str]] = []
    seen: Set[str] = set()
    for item_id, body in items:
        if item_id in done or item_id in seen:
            report.skipped += 1
            continue
        seen.add(item_id)
        batch.append((item_id, body))
        if len(batch) == MAX_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
