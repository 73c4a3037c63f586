"""The emulator's indexed queue (vodai.emulator.message_queue) does what the plain list it replaced did:
random sends (delays, priorities), receives, deletes, visibility changes and clock moves give the
same answers as a reference model that walks every message, as MNS's semantics say. And a queue
of 50,000 messages drains without a pass over the queue per operation."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from vodai.emulator import Clock, EmulatorBackend
from vodai.emulator.message_queue import MessageQueue

from .helpers import QUEUE


class _ListQueue:
    """The reference: the emulator's queue before it was indexed (a list, scanned each time)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.handles = 0

    def _new_handle(self) -> str:
        self.handles += 1  # every handle given is new, as MNS's
        return f"h{self.handles}"

    def add(self, message: dict) -> None:
        self.messages.append(message)

    def receive(self, count: int, now: int, timeout_ms: int) -> list[dict]:
        visible = sorted((m for m in self.messages if m["NextVisibleTime"] <= now),
                         key=lambda m: (m["Priority"], m["EnqueueTime"]))
        out = []
        for message in visible[:count]:
            message["DequeueCount"] += 1
            message["FirstDequeueTime"] = message["FirstDequeueTime"] or now
            message["NextVisibleTime"] = now + timeout_ms
            message["ReceiptHandle"] = self._new_handle()
            out.append(dict(message))
        return out

    def _held(self, handle: str, now: int):
        for message in self.messages:
            if message["ReceiptHandle"] == handle:
                return message if message["NextVisibleTime"] > now else None
        return None

    def delete(self, handle: str, now: int) -> bool:
        message = self._held(handle, now)
        if message is None:
            return False
        self.messages.remove(message)
        return True

    def change_visibility(self, handle: str, next_visible: int, now: int):
        message = self._held(handle, now)
        if message is None:
            return None
        message["NextVisibleTime"] = next_visible
        message["ReceiptHandle"] = self._new_handle()
        return message


def _message(n: int, now: int, delay: int, priority: int) -> dict:
    return {"MessageId": f"m{n}", "MessageBody": f"body {n}", "Priority": priority, "EnqueueTime": now,
            "NextVisibleTime": now + delay * 1000, "DequeueCount": 0, "FirstDequeueTime": None, "ReceiptHandle": None}


_OPS = st.lists(st.one_of(
    st.tuples(st.just("send"), st.integers(0, 3), st.integers(1, 3)),  # delay s, priority
    st.tuples(st.just("receive"), st.integers(1, 4), st.integers(1, 5)),  # count, visibility s
    st.tuples(st.just("delete"), st.integers(0, 50), st.booleans()),  # which handle, an old one
    st.tuples(st.just("visibility"), st.integers(0, 50), st.integers(0, 4)),  # which handle, seconds
    st.tuples(st.just("advance"), st.integers(0, 4000), st.just(0)),  # ms
), max_size=80)


@settings(max_examples=300, deadline=None, database=None)
@given(_OPS)
def test_the_indexed_queue_answers_as_the_list_it_replaced(ops):
    indexed, reference = MessageQueue(), _ListQueue()
    now, sent = 1_000_000, 0
    handles: list[tuple[str, str]] = []  # (indexed handle, reference handle), every one ever given
    for op, a, b in ops:
        if op == "send":
            indexed.add(_message(sent, now, a, b))
            reference.add(_message(sent, now, a, b))
            sent += 1
        elif op == "receive":
            got, want = indexed.receive(a, now, b * 1000), reference.receive(a, now, b * 1000)
            strip = [{k: v for k, v in m.items() if k != "ReceiptHandle"} for m in got]
            assert strip == [{k: v for k, v in m.items() if k != "ReceiptHandle"} for m in want]
            handles += [(g["ReceiptHandle"], w["ReceiptHandle"]) for g, w in zip(got, want, strict=True)]
        elif op in ("delete", "visibility") and handles:
            mine, theirs = handles[a % len(handles)]
            if op == "delete":
                assert indexed.delete(mine, now) == reference.delete(theirs, now)
            else:
                changed, expected = indexed.change_visibility(mine, now + b * 1000, now), \
                    reference.change_visibility(theirs, now + b * 1000, now)
                assert (changed is None) == (expected is None)
                if changed is not None:
                    assert changed["NextVisibleTime"] == expected["NextVisibleTime"]
                    handles.append((changed["ReceiptHandle"], expected["ReceiptHandle"]))
        elif op == "advance":
            now += a
        assert [(m["MessageId"], m["NextVisibleTime"], m["DequeueCount"]) for m in indexed.messages()] == [
            (m["MessageId"], m["NextVisibleTime"], m["DequeueCount"]) for m in reference.messages]
        soonest = min((m["NextVisibleTime"] for m in reference.messages), default=None)
        if soonest is None:
            assert indexed.next_visible_in(now) == float("inf")
        elif soonest <= now:
            assert indexed.next_visible_in(now) <= 0
        else:
            assert indexed.next_visible_in(now) == soonest - now
    assert indexed.sent == sent and len(indexed) == len(reference.messages)


def test_sent_counts_every_message_ever_sent_until_a_reset(backend: EmulatorBackend, clock: Clock):
    for body in ("a", "b", "c"):
        backend.send_to_queue(QUEUE, body)
    for message in backend.receive_from_queue(QUEUE, 3):
        backend.delete_from_queue(QUEUE, message["ReceiptHandle"])
    assert backend.queue_stats(QUEUE)["sent"] == 3 and backend.queue_stats(QUEUE)["messages"] == 0

    backend.send_to_queue(QUEUE, "d")
    state = backend.state()
    backend.reset()
    assert backend.queue_stats(QUEUE)["sent"] == 0
    backend.load_state(state)  # the count travels with the saved state
    assert backend.queue_stats(QUEUE) == {"messages": 1, "visible": 1, "in_flight": 0, "delayed": 0, "sent": 4}


def test_a_saved_queue_keeps_its_receipt_handles_and_order(backend: EmulatorBackend, clock: Clock):
    for body in ("a", "b", "c"):
        backend.send_to_queue(QUEUE, body, priority=8 if body != "c" else 1)
    (held,) = backend.receive_from_queue(QUEUE, 1)
    assert held["MessageBody"] == "c"  # the highest priority first
    other = EmulatorBackend(clock=clock)
    other.load_state(backend.state())
    assert other.change_visibility(QUEUE, held["ReceiptHandle"], 5) is not None  # still its handle
    assert [m["MessageBody"] for m in other.receive_from_queue(QUEUE, 3)] == ["a", "b"]
    other.close()


def test_fifty_thousand_messages_drain_in_batches_without_a_pass_per_batch(backend: EmulatorBackend, clock: Clock):
    count = 50_000
    for n in range(count):
        backend.send_to_queue(QUEUE, f"m{n}")
    started = time.process_time()
    drained = 0
    while True:
        batch = backend.receive_from_queue(QUEUE, 10, visibility_timeout=60)
        if not batch:
            break
        for message in batch:  # as the queue trigger does with a window: restart, then delete
            changed = backend.change_visibility(QUEUE, message["ReceiptHandle"], 60)
            assert backend.delete_from_queue(QUEUE, changed["ReceiptHandle"])
        drained += len(batch)
    assert drained == count and backend.queue_stats(QUEUE)["messages"] == 0
    # A pass over the queue per batch is ~10^9 steps here (minutes); indexed it is about a second.
    assert time.process_time() - started < 20


def test_topic_messages_are_copies_and_counted_without_copying(backend: EmulatorBackend):
    from .helpers import TOPIC

    backend.publish(TOPIC, "a", "T", attributes={"DirectMail": {"Subject": "s"}})
    backend.publish(TOPIC, "b", None)
    shown = backend.topic_messages(TOPIC)
    shown[0]["MessageAttributes"]["DirectMail"]["Subject"] = "changed"
    shown[1]["MessageBody"] = "changed"
    assert [(m["MessageBody"], m.get("MessageAttributes")) for m in backend.topic_messages(TOPIC)] == [
        ("a", {"DirectMail": {"Subject": "s"}}), ("b", None)]
    assert backend.topic_size(TOPIC) == 2

