"""A queue's depth (visible, in flight, delayed) and the waits built on the backend's queue
condition: a receiver sleeps until a message is visible, a drain wait until the queue is empty."""

from __future__ import annotations

import threading
import time

from vodai.emulator import Clock, EmulatorBackend, create_app

from .helpers import QUEUE


def test_stats_count_visible_in_flight_and_delayed(backend: EmulatorBackend, clock: Clock):
    for body in ("a", "b", "c"):
        backend.send_to_queue(QUEUE, body)
    backend.send_to_queue(QUEUE, "later", delay_seconds=60)
    backend.receive_from_queue(QUEUE, 1)

    assert backend.queue_stats(QUEUE) == {"messages": 4, "visible": 2, "in_flight": 1, "delayed": 1,
                                             "sent": 4}
    backend.advance(60)  # the delay and the visibility timeout (30 s) both ended
    assert backend.queue_stats(QUEUE) == {"messages": 4, "visible": 4, "in_flight": 0, "delayed": 0,
                                             "sent": 4}


def test_a_receive_can_set_its_own_visibility_timeout(backend: EmulatorBackend, clock: Clock):
    backend.send_to_queue(QUEUE, "a")
    (message,) = backend.receive_from_queue(QUEUE, 1, visibility_timeout=5)
    assert message["NextVisibleTime"] == int(clock.now() * 1000) + 5000
    backend.advance(5)
    assert [m["MessageBody"] for m in backend.receive_from_queue(QUEUE, 1)] == ["a"]  # visible again


def test_wait_for_messages_answers_at_once_when_one_is_visible(backend: EmulatorBackend):
    backend.send_to_queue(QUEUE, "a")
    started = time.monotonic()
    assert backend.wait_for_messages(QUEUE, 30) is True
    assert time.monotonic() - started < 1


def test_wait_for_messages_wakes_on_a_send(backend: EmulatorBackend):
    woke = threading.Event()

    def wait() -> None:
        # It may wake without a message (a spurious or capped wake): look again, as the trigger does.
        while not backend.wait_for_messages(QUEUE, 30):
            pass
        woke.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    backend.send_to_queue(QUEUE, "a")
    assert woke.wait(5)
    waiter.join(5)


def test_wait_for_messages_returns_false_once_stopped(backend: EmulatorBackend):
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert backend.wait_for_messages(QUEUE, 30, stop=stop) is False
    assert time.monotonic() - started < 1


def test_an_invisible_message_is_waited_for_until_its_time(backend: EmulatorBackend, clock: Clock):
    backend.send_to_queue(QUEUE, "a")
    backend.receive_from_queue(QUEUE, 1)
    assert backend.wait_for_messages(QUEUE, 0) is False  # in flight: nothing to receive
    backend.advance(30)
    assert backend.wait_for_messages(QUEUE, 0) is True


def test_wait_until_empty_wakes_on_the_last_delete(backend: EmulatorBackend):
    backend.send_to_queue(QUEUE, "a")
    (message,) = backend.receive_from_queue(QUEUE, 1)
    assert backend.wait_until_empty(QUEUE, 0) is False
    threading.Timer(0.05, backend.delete_from_queue, (QUEUE, message["ReceiptHandle"])).start()
    assert backend.wait_until_empty(QUEUE, 10) is True


def test_control_api_shows_depth_and_waits_for_empty(backend: EmulatorBackend):
    client = create_app(backend).test_client()
    backend.send_to_queue(QUEUE, "a")
    [listed] = [q for q in client.get("/_emulator/queues").get_json() if q["name"] == QUEUE]
    assert listed == {"name": QUEUE, "messages": 1, "visible": 1, "in_flight": 0, "delayed": 0, "sent": 1}

    answer = client.post(f"/_emulator/queues/{QUEUE}/wait", json={"timeout": 0}).get_json()
    assert (answer["empty"], answer["messages"]) == (False, 1)
    backend.reset()
    assert client.post(f"/_emulator/queues/{QUEUE}/wait", json={"timeout": 5}).get_json()["empty"] is True
    assert client.post("/_emulator/queues/nope/wait", json={}).status_code == 404
    assert client.post(f"/_emulator/queues/{QUEUE}/wait", json={"timeout": -1}).status_code == 400
