"""One emulated MNS queue's messages, indexed so that no operation walks the whole queue.

A queue holding 50,000 messages (a backfill sent faster than it is consumed) is received from and
deleted from tens of thousands of times: a pass over every message per receive, delete or
visibility change made draining it quadratic. Here:

- the messages by MessageId, in the order they were sent (what listing and saving show);
- the current ReceiptHandle of each received message -> its MessageId (a new receive or a
  visibility change replaces it, so an older handle stops working, as in MNS);
- a heap of the messages visible now, by Priority, then EnqueueTime, then send order (MNS hands
  out the highest priority first, then the oldest);
- a heap of the others (delayed, or received and not yet visible again) by NextVisibleTime: a
  message moves to the visible heap once the clock passes its time (looked at lazily, by the
  next operation).

A heap entry carries the message's version, bumped whenever its NextVisibleTime changes; an entry
whose message was deleted or has a newer version is stale and dropped when it comes to the top.

Not thread-safe: the backend calls it under its lock. Times are the emulator clock's, epoch ms.
"""

from __future__ import annotations

import heapq
import uuid
from typing import Any, Iterable, Optional


def new_receipt_handle() -> str:
    return uuid.uuid4().hex.upper()


class MessageQueue:
    """The messages of one queue (message dicts as :meth:`EmulatorBackend.send_to_queue` makes them)."""

    def __init__(self, messages: Iterable[dict[str, Any]] = (), *, sent: Optional[int] = None) -> None:
        self._messages: dict[str, dict[str, Any]] = {}
        self._handles: dict[str, str] = {}
        self._version: dict[str, int] = {}
        self._order: dict[str, int] = {}
        self._visible: list[tuple[int, int, int, int, str]] = []  # (Priority, EnqueueTime, order, version, id)
        self._waiting: list[tuple[int, int, str]] = []  # (NextVisibleTime, version, id)
        self._next_order = 0
        self.sent = 0  # messages ever sent to the queue (since it was made, reset or loaded)
        for message in messages:
            self.add(message)
            if message.get("ReceiptHandle"):
                self._handles[message["ReceiptHandle"]] = message["MessageId"]
        if sent is not None:
            self.sent = max(sent, len(self._messages))

    def __len__(self) -> int:
        return len(self._messages)

    def add(self, message: dict[str, Any]) -> None:
        """Store a sent message (not yet visible until its NextVisibleTime)."""
        message_id = message["MessageId"]
        self._messages[message_id] = message
        self._order[message_id] = self._next_order
        self._next_order += 1
        self._version[message_id] = 0
        heapq.heappush(self._waiting, (message["NextVisibleTime"], 0, message_id))
        self.sent += 1

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def messages(self) -> list[dict[str, Any]]:
        """Copies of the messages, in the order they were sent."""
        return [dict(m) for m in self._messages.values()]

    def receive(self, count: int, now: int, timeout_ms: int) -> list[dict[str, Any]]:
        """Up to ``count`` visible messages, each invisible for ``timeout_ms`` from ``now`` with a
        new ReceiptHandle; copies."""
        self._promote(now)
        received: list[dict[str, Any]] = []
        while self._visible and len(received) < count:
            _, _, _, version, message_id = heapq.heappop(self._visible)
            if not self._current(message_id, version):
                continue
            message = self._messages[message_id]
            message["DequeueCount"] = message.get("DequeueCount", 0) + 1
            if message.get("FirstDequeueTime") is None:
                message["FirstDequeueTime"] = now
            self._reschedule(message, now + timeout_ms)
            received.append(dict(message))
        return received

    def delete(self, receipt_handle: str, now: int) -> bool:
        """Delete the message whose current handle is ``receipt_handle`` while it is invisible;
        False otherwise (MNS's MessageNotExist)."""
        message = self._held(receipt_handle, now)
        if message is None:
            return False
        message_id = message["MessageId"]
        del self._messages[message_id], self._handles[receipt_handle], self._version[message_id]
        del self._order[message_id]
        return True

    def change_visibility(self, receipt_handle: str, next_visible: int, now: int) -> Optional[dict[str, Any]]:
        """Make the message of ``receipt_handle`` visible at ``next_visible`` with a new handle;
        its ReceiptHandle and NextVisibleTime, or None as :meth:`delete`."""
        message = self._held(receipt_handle, now)
        if message is None:
            return None
        self._reschedule(message, next_visible)
        return {"ReceiptHandle": message["ReceiptHandle"], "NextVisibleTime": message["NextVisibleTime"]}

    def next_visible_in(self, now: int) -> float:
        """Milliseconds until a message is visible: <= 0 when one is, inf when the queue is empty."""
        self._promote(now)
        self._drop_stale()
        if self._visible:
            return 0.0
        if self._waiting:
            return float(self._waiting[0][0] - now)
        return float("inf")

    def stats(self, now: int) -> dict[str, int]:
        """``messages``, ``visible``, ``in_flight``, ``delayed`` (as MNS's queue attributes count
        them) and ``sent``. A pass over the queue: for status, not for every request."""
        visible = in_flight = 0
        for message in self._messages.values():
            if message["NextVisibleTime"] <= now:
                visible += 1
            elif message.get("DequeueCount"):
                in_flight += 1
        return {"messages": len(self._messages), "visible": visible, "in_flight": in_flight,
                "delayed": len(self._messages) - visible - in_flight, "sent": self.sent}

    # -- internals --------------------------------------------------------------------------

    def _held(self, receipt_handle: str, now: int) -> Optional[dict[str, Any]]:
        message_id = self._handles.get(receipt_handle)
        message = self._messages.get(message_id) if message_id is not None else None
        if message is None or message["NextVisibleTime"] <= now:
            return None  # unknown, replaced, deleted, or its visibility timeout ended
        return message

    def _reschedule(self, message: dict[str, Any], next_visible: int) -> None:
        message_id = message["MessageId"]
        old = message.get("ReceiptHandle")
        if old is not None:
            self._handles.pop(old, None)
        handle = new_receipt_handle()
        message["ReceiptHandle"] = handle
        message["NextVisibleTime"] = next_visible
        self._handles[handle] = message_id
        version = self._version[message_id] + 1
        self._version[message_id] = version
        heapq.heappush(self._waiting, (next_visible, version, message_id))

    def _promote(self, now: int) -> None:
        """Move every message whose time came from the waiting heap to the visible one."""
        waiting = self._waiting
        while waiting and waiting[0][0] <= now:
            _, version, message_id = heapq.heappop(waiting)
            if not self._current(message_id, version):
                continue
            message = self._messages[message_id]
            heapq.heappush(self._visible, (message.get("Priority", 8), message.get("EnqueueTime", 0), self._order[message_id],
                                           version, message_id))

    def _drop_stale(self) -> None:
        while self._visible and not self._current(self._visible[0][4], self._visible[0][3]):
            heapq.heappop(self._visible)
        while self._waiting and not self._current(self._waiting[0][2], self._waiting[0][1]):
            heapq.heappop(self._waiting)

    def _current(self, message_id: str, version: int) -> bool:
        """Whether a heap entry still stands for its message (not deleted, not rescheduled since)."""
        return message_id in self._messages and self._version[message_id] == version


__all__ = ["MessageQueue", "new_receipt_handle"]
