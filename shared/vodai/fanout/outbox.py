"""Where a fan-out's batches go: each one recorded as pending, sent, and what MNS took recorded as sent.

:func:`open_outbox` gives an :class:`Outbox` that does the three steps in this process, or, with
``detach``, a :class:`vodai.fanout.detached.DetachedOutbox` that does them in a process of its own,
which finishes (and records) the batch it holds even when this one is killed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Protocol, Sequence, Set

from .checkpoint import LOCK_WAIT, Checkpoint

#: MNS's BatchSendMessage takes at most 16 messages.
MAX_BATCH = 16


class BatchSender(Protocol):
    def batch_send(self, queue: str, bodies: Sequence[str]) -> List[dict]: ...


def send_batch(sender: BatchSender, queue: str, bodies: Sequence[str]) -> List[dict]:
    """``sender.batch_send``, one result per body whatever happens: a request that failed as a
    whole (an exception) or an answer of the wrong length makes every body's result an error."""
    try:
        results = sender.batch_send(queue, list(bodies))
    except Exception as exc:  # the whole request failed: the next run sends the batch
        return [{"ErrorCode": type(exc).__name__, "ErrorMessage": str(exc)}] * len(bodies)
    if len(results) != len(bodies):
        return [{"ErrorCode": "BadAnswer", "ErrorMessage": f"{len(results)} results for {len(bodies)} messages"}] * len(bodies)
    return [dict(r) for r in results]


def taken(ids: Sequence[str], results: Sequence[Mapping[str, Any]]) -> List[str]:
    """The ids whose result has a MessageId: the messages MNS stored."""
    return [i for i, r in zip(ids, results, strict=True) if r.get("MessageId")]


class Outbox:
    """Sends each batch in this process: pending record, BatchSendMessage, sent record.

    ``sent`` and ``uncertain`` are what the checkpoint held when it was opened.
    """

    def __init__(self, sender: BatchSender, queue: str, record: Optional[Checkpoint] = None) -> None:
        self.sender, self.queue, self.record = sender, queue, record
        self.sent: Set[str] = set(record.sent) if record is not None else set()
        self.uncertain: Set[str] = set(record.uncertain) if record is not None else set()

    def send(self, ids: Sequence[str], bodies: Sequence[str]) -> List[dict]:
        """One batch; returns one result per body (``MessageId``, or ``ErrorCode``/``ErrorMessage``)."""
        if self.record is not None:
            self.record.pending(ids)
        results = send_batch(self.sender, self.queue, bodies)
        sent = taken(ids, results)
        if self.record is not None and sent:
            self.record.done(sent)
        return results

    def close(self) -> None:
        if self.record is not None:
            self.record.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_outbox(sender: BatchSender, queue: str, *, checkpoint: Optional[Path] = None,
                params: Optional[Mapping[str, Any]] = None, detach: bool = False, wait: float = LOCK_WAIT,
                on_wait: Optional[Callable[[], None]] = None) -> Outbox:
    """The outbox of a fan-out to ``queue``.

    Parameters
    ----------
    sender
        Has ``batch_send(queue, bodies)`` (:class:`vodai.clients.mns.MnsQueueClient`). With
        ``detach`` it is used by the other process only, through ``sender.renewed()`` when it has
        that method (a client with connections of its own).
    queue
        The queue's name.
    checkpoint
        The checkpoint file (:class:`Checkpoint`), or None for none.
    params
        What the run is, checked against the checkpoint's first line.
    detach
        Send from a process of its own (:mod:`vodai.fanout.detached`), so that a kill of this
        one never leaves a batch sent but unrecorded. Only with a checkpoint, and where
        ``os.fork`` exists; otherwise the batches go out from this process.
    wait, on_wait
        As for :class:`Checkpoint`.

    Raises
    ------
    CheckpointError
        The checkpoint cannot be used.
    """
    record = Checkpoint(checkpoint, params, wait=wait, on_wait=on_wait) if checkpoint is not None else None
    if detach and record is not None:
        from .detached import DetachedOutbox, can_detach

        if can_detach():
            try:
                return DetachedOutbox(sender, queue, record)
            except BaseException:
                record.close()
                raise
    return Outbox(sender, queue, record)
