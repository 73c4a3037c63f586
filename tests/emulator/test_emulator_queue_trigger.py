"""The emulated FC MNS queue trigger's loop on the in-process backend, with fake function instances
(an injected ``invoke``): batches, the CloudEvents they carry, deletes on success, retries after the
visibility timeout, the dead-letter queue, fan-out over instances and stopping."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any, Callable, Optional

import pytest

from conftest import EVENTS
from vodai.emulator import Clock, EmulatorBackend, QueueTriggers
from vodai.emulator.queue_trigger import QueueTrigger
from vodai.events.envelopes import unwrap

SOURCE, DEAD = "vod-events-q", "vod-events-dead"
A, B = "http://127.0.0.1:9101", "http://127.0.0.1:9102"

Answer = Callable[[str, list], dict]


class FakeInstances:
    """Function instances that answer from ``answer(url, events)`` and record every call; with
    ``hold`` set, each call waits until :meth:`release`."""

    def __init__(self, answer: Optional[Answer] = None, *, hold: bool = False) -> None:
        self._answer = answer or (lambda url, events: {"Status": 200})
        self._calls = threading.Condition()
        self._released = threading.Event()
        if not hold:
            self._released.set()
        self.calls: list[dict[str, Any]] = []
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def __call__(self, url: str, payload: bytes, headers: dict, timeout: float) -> dict:
        base = url.removesuffix("/invoke")
        events = json.loads(payload)
        with self._calls:
            self.calls.append({"url": base, "events": events, "headers": headers, "payload": payload})
            self.in_flight[base] = self.in_flight.get(base, 0) + 1
            self.peak[base] = max(self.peak.get(base, 0), self.in_flight[base])
            self._calls.notify_all()
        try:
            assert self._released.wait(30)
            return self._answer(base, events)
        finally:
            with self._calls:
                self.in_flight[base] -= 1

    def release(self) -> None:
        self._released.set()

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        with self._calls:
            assert self._calls.wait_for(lambda: len(self.calls) >= count, timeout), f"{len(self.calls)} call(s)"
            return list(self.calls)


def until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def triggers(backend: EmulatorBackend):
    made: list[QueueTriggers] = []

    def make(fake: FakeInstances) -> QueueTriggers:
        made.append(QueueTriggers(backend, invoke=fake))
        return made[-1]

    yield make
    for one in made:
        one.close()


def _send(backend: EmulatorBackend, count: int, queue: str = SOURCE) -> list[str]:
    backend.create_queue(queue)
    bodies = [json.dumps({"EventType": "FileUploadComplete", "VideoId": f"v{i}"}) for i in range(count)]
    return [backend.send_to_queue(queue, body)["MessageId"] for body in bodies]


def test_a_batch_is_one_invocation_of_documented_cloudevents(backend: EmulatorBackend, triggers):
    sent = _send(backend, 3)
    fake = FakeInstances()
    triggers(fake).add(SOURCE, A, region="ap-southeast-1")

    assert backend.wait_until_empty(SOURCE, 10)
    [call] = fake.wait_for(1)
    sample = json.loads((EVENTS / "cloudevent-batch" / "video-cn-shanghai.json").read_text())[0]
    for event in call["events"]:
        assert list(event) == list(sample)  # every key, in the sample's order
        assert list(event["data"]) == list(sample["data"])
        assert (event["source"], event["type"], event["specversion"]) == ("acs:mns", "mns:Queue:SendMessage", "1.0")
        assert event["aliyunregionid"] == "ap-southeast-1" and event["aliyunaccountid"] == backend.account_id
        assert event["subject"] == f"acs:mns:ap-southeast-1:{backend.account_id}:queues/{SOURCE}"
    assert [e["data"]["messageId"] for e in call["events"]] == sent
    assert call["headers"]["x-fc-function-name"] == "on_upload" and call["headers"]["x-fc-retry-count"] == "0"

    # The handler's parser reads it as an EventBridge batch: one record per message, region and id kept.
    records = unwrap(call["payload"])
    assert [(r.shape, r.region, r.region_source, r.source_id) for r in records] == [
        ("cloudevent", "ap-southeast-1", "cloudevent.aliyunregionid", m) for m in sent]
    assert [r.body["VideoId"] for r in records] == ["v0", "v1", "v2"]


def test_batches_hold_at_most_batch_size(backend: EmulatorBackend, triggers):
    _send(backend, 25)
    fake = FakeInstances()
    triggers(fake).add(SOURCE, A, batch_size=10)

    assert backend.wait_until_empty(SOURCE, 10)
    assert [len(c["events"]) for c in fake.wait_for(3)] == [10, 10, 5]


def test_a_batch_window_waits_to_fill_the_batch(backend: EmulatorBackend, triggers):
    _send(backend, 1)
    fake = FakeInstances()
    triggers(fake).add(SOURCE, A, batch_size=4, batch_window=10)
    _send(backend, 3)  # while the first waits in the window

    assert backend.wait_until_empty(SOURCE, 10)
    assert [len(c["events"]) for c in fake.wait_for(1)] == [4]


def test_the_invocation_gets_the_whole_visibility_timeout_after_the_window(
        backend: EmulatorBackend, clock: Clock, triggers):
    _send(backend, 1)
    fake = FakeInstances(hold=True)
    triggers(fake).add(SOURCE, A, batch_size=4, batch_window=0.2, visibility_timeout=30)

    fake.wait_for(1)  # the window passed with one message: it went out alone
    [message] = backend.queue_messages(SOURCE)
    assert message["NextVisibleTime"] == int(clock.now() * 1000) + 30_000  # not 30 s + the window
    fake.release()
    assert backend.wait_until_empty(SOURCE, 10)


def test_the_delivery_log_records_each_batch(backend: EmulatorBackend, triggers):
    sent = _send(backend, 2)
    triggers(FakeInstances()).add(SOURCE, A, name="fan-out")
    assert backend.wait_until_empty(SOURCE, 10) and backend.deliveries.wait(10)

    [record] = backend.deliveries.log()
    assert (record["Kind"], record["Target"], record["Result"]) == ("fc-queue-trigger", f"{A}/invoke", "delivered")
    assert (record["Queue"], record["Trigger"], record["Count"], record["Attempt"]) == (SOURCE, "fan-out", 2, 1)
    assert record["MessageIds"] == sent and record["Deleted"] == 2
    assert [a["Status"] for a in record["Attempts"]] == [200]


@pytest.mark.parametrize("failure", [{"Status": 500}, {"Status": 404, "FcStatus": "404"},
                                     {"Status": 200, "FcStatus": "404"}, {"Status": None, "Error": "ConnectTimeout"}])
def test_a_failed_batch_is_received_again_after_the_visibility_timeout(
        backend: EmulatorBackend, clock: Clock, triggers, failure):
    _send(backend, 2)
    answers = iter([failure])
    fake = FakeInstances(lambda url, events: next(answers, {"Status": 200}))
    trigger = triggers(fake)
    trigger.add(SOURCE, A, visibility_timeout=30)

    fake.wait_for(1)
    assert backend.deliveries.wait(10)
    assert backend.queue_stats(SOURCE)["in_flight"] == 2  # not deleted, not visible yet
    [failed] = backend.deliveries.log()
    assert failed["Result"] == "failed" and "after 30 s" in failed["Error"]

    backend.advance(30)  # the visibility timeout ends: the same messages come again
    second = fake.wait_for(2)[1]
    assert backend.wait_until_empty(SOURCE, 10)
    assert second["headers"]["x-fc-retry-count"] == "1"
    assert [e["data"]["messageId"] for e in second["events"]] == failed["MessageIds"]
    assert backend.deliveries.wait(10)
    assert [(r["Result"], r["Attempt"]) for r in backend.deliveries.log()] == [("failed", 1), ("delivered", 2)]
    [status] = trigger.status()
    assert (status["invocations"], status["succeeded"], status["failed"], status["deleted"]) == (2, 1, 1, 2)


def test_without_a_dead_letter_queue_a_message_is_retried_until_it_succeeds(
        backend: EmulatorBackend, clock: Clock, triggers):
    _send(backend, 1)
    answers = iter([{"Status": 500}] * 4)
    fake = FakeInstances(lambda url, events: next(answers, {"Status": 200}))
    triggers(fake).add(SOURCE, A, visibility_timeout=5)
    for calls in range(1, 5):
        fake.wait_for(calls)
        assert backend.deliveries.wait(10)
        backend.advance(5)
    assert backend.wait_until_empty(SOURCE, 10)
    assert len(fake.wait_for(5)) == 5


def test_after_max_receives_failed_messages_go_to_the_dead_letter_queue(
        backend: EmulatorBackend, clock: Clock, triggers):
    _send(backend, 2)
    fake = FakeInstances(lambda url, events: {"Status": 500})
    trigger = triggers(fake)
    trigger.add(SOURCE, A, visibility_timeout=5, max_receives=2, dead_letter_queue=DEAD)

    fake.wait_for(1)
    assert backend.deliveries.wait(10)
    assert backend.queue_messages(DEAD) == []
    backend.advance(5)
    fake.wait_for(2)
    assert backend.wait_until_empty(SOURCE, 10) and backend.deliveries.wait(10)

    assert sorted(json.loads(m["MessageBody"])["VideoId"] for m in backend.queue_messages(DEAD)) == ["v0", "v1"]
    assert [r["Result"] for r in backend.deliveries.log()] == ["failed", "dead-lettered"]
    assert trigger.status()[0]["dead_lettered"] == 2


def test_batches_spread_over_instances_one_in_flight_each(backend: EmulatorBackend, triggers):
    _send(backend, 6)
    fake = FakeInstances(hold=True)
    trigger = triggers(fake)
    trigger.add(SOURCE, [A, B], batch_size=1)

    assert {c["url"] for c in fake.wait_for(2)} == {A, B}  # both at once: parallel
    # Both instances busy: the trigger waits for a free one and receives nothing meanwhile.
    until(lambda: [t["in_flight"] for t in trigger.status()[0]["targets"]] == [1, 1])
    assert backend.queue_stats(SOURCE)["visible"] == 4
    fake.release()

    assert backend.wait_until_empty(SOURCE, 10)
    assert sum(len(c["events"]) for c in fake.wait_for(6)) == 6
    assert fake.peak == {A: 1, B: 1}  # never two at once on one instance


def test_concurrency_allows_more_invocations_per_instance(backend: EmulatorBackend, triggers):
    _send(backend, 3)
    fake = FakeInstances(hold=True)
    triggers(fake).add(SOURCE, A, batch_size=1, concurrency=2)

    fake.wait_for(2)
    until(lambda: backend.queue_stats(SOURCE)["in_flight"] == 2)
    assert fake.peak == {A: 2} and backend.queue_stats(SOURCE)["visible"] == 1
    fake.release()
    assert backend.wait_until_empty(SOURCE, 10)


def test_an_answer_after_the_visibility_timeout_deletes_nothing(backend: EmulatorBackend, clock: Clock, triggers):
    _send(backend, 1)
    late = iter([True])

    def answer(url: str, events: list) -> dict:
        if next(late, False):
            backend.advance(120)  # the invocation outlived its visibility timeout
        return {"Status": 200}

    fake = FakeInstances(answer)
    triggers(fake).add(SOURCE, A, visibility_timeout=60)
    assert backend.wait_until_empty(SOURCE, 10)  # received again (visible at once) and deleted then
    assert backend.deliveries.wait(10)
    first, second = backend.deliveries.log()
    assert first["Result"] == "delivered" and first["NotDeleted"] == first["MessageIds"]
    assert second["Deleted"] == 1 and len(fake.wait_for(2)) == 2


class CountingBackend(EmulatorBackend):
    """Counts receives, to show an idle trigger sleeps instead of polling."""

    receives = 0

    def receive_from_queue(self, queue: str, count: int = 1, **kwargs: Any) -> list:
        self.receives += 1
        return super().receive_from_queue(queue, count, **kwargs)


def test_an_idle_trigger_sleeps_and_stops_at_once():
    backend = CountingBackend()
    backend.create_queue(SOURCE)
    fake = FakeInstances()
    triggers = QueueTriggers(backend, invoke=fake)
    try:
        triggers.add(SOURCE, A)
        time.sleep(0.5)  # nothing to wait for: this measures what an empty queue costs
        assert backend.receives <= 3
        backend.send_to_queue(SOURCE, "{}")
        fake.wait_for(1, timeout=5)  # woken by the send, not by its next look
        started = time.monotonic()
        assert triggers.remove() == 1
        assert time.monotonic() - started < 1
        assert triggers.status() == []
    finally:
        triggers.close()
        backend.close()


def test_a_stopped_trigger_gives_back_the_batch_it_was_filling(backend: EmulatorBackend, triggers):
    _send(backend, 1)
    fake = FakeInstances()
    trigger = triggers(fake)
    trigger.add(SOURCE, A, batch_size=10, batch_window=15)
    until(lambda: backend.queue_stats(SOURCE)["in_flight"] == 1)  # received, waiting for more

    trigger.remove()
    assert backend.queue_stats(SOURCE)["visible"] == 1 and fake.calls == []


def test_backend_configuration_state_and_close(backend: EmulatorBackend):
    added = backend.queue_triggers.add(f"{SOURCE}=http://127.0.0.1:1/invoke,url=http://127.0.0.1:2,batch=5,"
                                       f"max_receives=3,dead_letter={DEAD}")
    assert added.urls == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert backend.has_queue(SOURCE) and backend.has_queue(DEAD)  # created
    state = backend.state()
    assert state["queue_triggers"] == [added.to_dict()]

    other = EmulatorBackend()
    try:
        other.load_state(state)
        [loaded] = other.queue_triggers.status()
        assert loaded["spec"] == added.spec() and loaded["running"]
    finally:
        other.close()
    backend.close()
    assert not backend.queue_triggers.status()[0]["running"]


@pytest.mark.parametrize("spec, message", [
    ("q", "expected QUEUE=URL"),
    ("q=ftp://x", "http:// or https://"),
    ("q=http://a,batch=101", "batch size 101: a whole number, 1..100"),
    ("q=http://a,batch=0", "batch size"),
    ("q=http://a,window=16", "batch window '16': seconds, 0..15"),
    ("q=http://a,concurrency=0", "concurrency"),
    ("q=http://a,visibility=0", "visibility timeout"),
    ("q=http://a,max_receives=3", "give both, or neither"),
    ("q=http://a,dead_letter=d", "give both, or neither"),
    ("q=http://a,max_receives=3,dead_letter=q", "must not be the queue"),
    ("q=http://a,url=http://a/", "given twice"),
    ("q=http://a,region=Shanghai", "region 'Shanghai'"),
    ("q=http://a,colour=red", "cannot read 'colour=red'"),
])
def test_bad_specs_name_the_setting(spec: str, message: str):
    from vodai.emulator import CallbackSpecError

    with pytest.raises(CallbackSpecError, match=re.escape(message)):
        QueueTrigger.parse(spec)


def test_spec_round_trip_and_defaults():
    trigger = QueueTrigger.parse("vodai-events=http://127.0.0.1:9001,url=http://127.0.0.1:9002")
    assert (trigger.batch_size, trigger.batch_window, trigger.concurrency, trigger.visibility_timeout) == (10, 0.0, 1, 60)
    assert trigger.name == "on_upload-vodai-events"
    assert QueueTrigger.parse(trigger.spec()) == trigger
    assert QueueTrigger.from_dict(trigger.to_dict()) == trigger
