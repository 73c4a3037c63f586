"""Moving the messages of MNS queues to another queue without running them
(``vodai replay mns-queue://SRC --to-queue DST``): e.g. dead letters back to the events queue
whose trigger runs on_upload, once what made them fail is fixed.

Each message is received, its event (the body, or the event of the dead letter it holds) goes to
DST through the fan-out (:mod:`vodai.fanout`), and the message is deleted from SRC once DST has it
(:meth:`QueueMove.settled`). Item ids are ``mns-queue://SRC#MessageId`` (a message keeps its
MessageId when it is received again), so with a checkpoint a move stopped between the send and the
delete only deletes on the next run: the message went to DST once. A message that cannot be read
(a dead letter keeping only an excerpt) is not sent and stays in SRC. Like a drain, a move stops
when a receive brings nothing new; messages the stopped run had received come back once their
visibility timeout ends.
"""

from __future__ import annotations

import logging
from typing import Dict, Iterator, List, Sequence, Tuple

from .drain import RECEIVE_BATCH, QueueClient
from .queues import QUEUE_SCHEME
from .sources import item_from_bytes

log = logging.getLogger("vodai.replay")


class QueueMove:
    """The items of ``queues`` for :func:`vodai.fanout.fan_out`, and the deletes of what was sent.

    Parameters
    ----------
    client
        The queue client that receives and deletes (:class:`vodai.clients.mns.MnsQueueClient`).
    queues
        The source queues' names, moved one after the other.
    """

    def __init__(self, client: QueueClient, queues: Sequence[str]) -> None:
        self.client, self.queues = client, list(queues)
        self.unreadable: List[Tuple[str, str]] = []  # (item id, why): not sent, left in the queue
        self.deleted = 0
        self.not_deleted: List[str] = []  # sent, but the delete failed: the next run (same checkpoint) deletes them
        self._handles: Dict[str, Tuple[str, str]] = {}  # item id -> (queue, receipt handle)

    def items(self) -> Iterator[Tuple[str, str]]:
        """``(item id, event text)`` of every readable message, received as they are asked for."""
        for queue in self.queues:
            seen: set = set()
            while True:
                messages = [m for m in self.client.receive(queue, RECEIVE_BATCH) if m.get("MessageId") not in seen]
                if not messages:
                    break
                for message in messages:
                    seen.add(message.get("MessageId"))
                    key = f"{QUEUE_SCHEME}{queue}#{message.get('MessageId')}"
                    item = item_from_bytes(key, str(message.get("MessageBody", "")).encode("utf-8"))
                    if item.raw is None:
                        self.unreadable.append((key, item.error or "unreadable"))
                        continue
                    self._handles[key] = (queue, message["ReceiptHandle"])
                    yield key, item.raw.decode("utf-8", "replace")

    def settled(self, ids: Sequence[str]) -> None:
        """Delete the messages of ``ids`` (in DST now, or since an earlier run) from their queue."""
        by_queue: Dict[str, List[Tuple[str, str]]] = {}
        for key in ids:
            found = self._handles.pop(key, None)
            if found is not None:
                by_queue.setdefault(found[0], []).append((key, found[1]))
        for queue, entries in by_queue.items():
            try:
                failed = {f.get("ReceiptHandle") for f in self.client.delete(queue, [h for _, h in entries])}
            except Exception as exc:  # the message comes back later; the checkpoint keeps it from going twice
                log.warning("mns-queue://%s: %d messages sent but not deleted: %s", queue, len(entries), exc)
                failed = {h for _, h in entries}
            for key, handle in entries:
                if handle in failed:
                    self.not_deleted.append(key)
                else:
                    self.deleted += 1

    def summary(self) -> str:
        """One line for the end of the run."""
        line = f"vodai: {self.deleted} messages moved out of {', '.join(self.queues)}"
        if self.not_deleted:
            line += (f"; {len(self.not_deleted)} sent but not deleted (visible again later: a run with the same "
                     f"--checkpoint deletes them without sending them again)")
        if self.unreadable:
            line += f"; {len(self.unreadable)} unreadable, left in the queue"
        return line
