"""The MNS queue message API of a real ``vodai emulator`` process, driven by the official
``aliyun-mns-sdk`` (the oracle of the request and response XML)."""

from __future__ import annotations

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import Message

from _servers import emulator_server

pytestmark = pytest.mark.e2e

AK, SECRET = "sdk-queue-ak", "sdk-queue-secret"
QUEUE = "vodai-dead-letters"


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, queues=(QUEUE,)) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


@pytest.fixture
def queue(server):
    return Account(server.url, AK, SECRET).get_queue(QUEUE)


def test_send_receive_and_delete_one_message(server, queue):
    sent = queue.send_message(Message('{"VideoId": "v <&> 视频"}'))

    got = queue.receive_message()

    assert got.message_id == sent.message_id
    assert got.message_body.decode() == '{"VideoId": "v <&> 视频"}'  # the SDK base64-encodes and decodes
    assert (got.dequeue_count, got.priority) == (1, 8)
    assert got.receipt_handle and got.next_visible_time >= got.enqueue_time + 30_000
    queue.delete_message(got.receipt_handle)
    assert server.queue_messages(QUEUE) == []


def test_an_empty_queue_answers_message_not_exist(queue):
    with pytest.raises(MNSServerException) as raised:
        queue.receive_message()
    assert (raised.value.type, raised.value.message) == ("MessageNotExist", "Message not exist.")


def test_a_received_message_is_invisible_until_its_timeout_ends(server, queue):
    queue.send_message(Message("one"))
    first = queue.receive_message()
    with pytest.raises(MNSServerException):
        queue.receive_message()

    server.advance(31)  # the queue's VisibilityTimeout is MNS's default, 30 s
    again = queue.receive_message()

    assert (again.message_id, again.dequeue_count) == (first.message_id, 2)
    assert again.receipt_handle != first.receipt_handle
    assert again.first_dequeue_time == first.first_dequeue_time
    with pytest.raises(MNSServerException) as raised:  # the first handle stopped working
        queue.delete_message(first.receipt_handle)
    assert raised.value.type == "MessageNotExist"
    queue.delete_message(again.receipt_handle)
    assert server.queue_messages(QUEUE) == []


def test_batch_send_receive_and_delete_sixteen(server, queue):
    sent = queue.batch_send_message([Message(f"m{i}", priority=8) for i in range(16)])
    assert len({m.message_id for m in sent}) == 16

    received = queue.batch_receive_message(16)

    assert sorted(m.message_body.decode() for m in received) == sorted(f"m{i}" for i in range(16))
    queue.batch_delete_message([m.receipt_handle for m in received])
    assert server.queue_messages(QUEUE) == []


def test_batch_receive_takes_at_most_what_is_asked_in_priority_order(queue):
    queue.batch_send_message([Message("low", priority=9), Message("high", priority=1), Message("mid")])

    first_two = queue.batch_receive_message(2)

    assert [m.message_body for m in first_two] == [b"high", b"mid"]
    assert [m.message_body for m in queue.batch_receive_message(16)] == [b"low"]


def test_batch_delete_reports_the_handles_that_name_no_message(server, queue):
    queue.batch_send_message([Message("a"), Message("b")])
    a, b = queue.batch_receive_message(2)

    with pytest.raises(MNSServerException) as raised:
        queue.batch_delete_message([a.receipt_handle, "NO-SUCH-HANDLE"])

    assert raised.value.type == "MessageNotExist"
    assert [e["ReceiptHandle"] for e in raised.value.sub_errors] == ["NO-SUCH-HANDLE"]
    assert [m["MessageBody"] for m in server.queue_messages(QUEUE)] == ["Yg=="]  # b, base64 as sent
    assert b.message_body == b"b"


def test_change_visibility_makes_a_message_visible_again_sooner(server, queue):
    queue.send_message(Message("retry me"))
    got = queue.receive_message()

    changed = queue.change_message_visibility(got.receipt_handle, 2)

    assert changed.receipt_handle != got.receipt_handle
    assert int(changed.next_visible_time) < got.next_visible_time
    server.advance(3)
    assert queue.receive_message().dequeue_count == 2


def test_long_polling_receive_waits_then_answers_not_exist(queue):
    with pytest.raises(MNSServerException) as raised:
        queue.receive_message(wait_seconds=1)
    assert raised.value.type == "MessageNotExist"


def test_batch_send_of_seventeen_is_refused_by_the_sdk_and_the_emulator(server, queue):
    with pytest.raises(Exception):  # noqa: B017 - the SDK's validator or the emulator's answer
        queue.batch_send_message([Message(f"m{i}") for i in range(17)])
    assert server.queue_messages(QUEUE) == []


def test_unknown_queue(server):
    other = Account(server.url, AK, SECRET).get_queue("no-such-queue")
    with pytest.raises(MNSServerException) as raised:
        other.receive_message()
    assert raised.value.type == "QueueNotExist"
