"""fan_out: batches of 16, the rate bound, partial failures and the checkpoint (a fake sender)."""

from __future__ import annotations

import json

import pytest

from vodai.fanout import Checkpoint, fan_out


class Sender:
    """Records each batch; refuses the bodies in ``refuse``, or raises for the batches in ``down``."""

    def __init__(self, refuse=(), down=()):
        self.batches: list[list[str]] = []
        self.refuse, self.down = set(refuse), set(down)

    def batch_send(self, queue, bodies):
        self.batches.append(list(bodies))
        if len(self.batches) in self.down:
            raise ConnectionError("MNS unreachable")
        return [{"ErrorCode": "InvalidArgument", "ErrorMessage": "no"} if b in self.refuse else {"MessageId": f"M-{b}"}
                for b in bodies]


def items(n, prefix="e"):
    return [(f"{prefix}{i}", f"body-{prefix}{i}") for i in range(n)]


def test_sends_in_batches_of_at_most_sixteen():
    sender = Sender()
    report = fan_out(items(40), sender=sender, queue="q")
    assert [len(b) for b in sender.batches] == [16, 16, 8]
    assert (report.sent, report.failed, report.skipped) == (40, 0, 0)


def test_refused_messages_are_failures_naming_the_item():
    sender = Sender(refuse={"body-e3"}, down={2})
    report = fan_out(items(20), sender=sender, queue="q")
    assert (report.sent, report.failed) == (15, 5)
    assert report.failures[0] == ("e3", "InvalidArgument: no")
    assert [i for i, _ in report.failures[1:]] == ["e16", "e17", "e18", "e19"]
    assert "ConnectionError: MNS unreachable" in report.failures[1][1]


def test_rate_bounds_messages_per_second():
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    fan_out(items(64), sender=Sender(), queue="q", rate=16, clock=lambda: now[0], sleep=sleep)
    assert now[0] == pytest.approx(3.0)  # 64 messages at 16/s: the 4th batch starts at 3 s


def test_a_checkpoint_resumes_without_sending_again(tmp_path):
    path = tmp_path / "run.checkpoint"
    first = Sender(down={2})
    report = fan_out(items(40), sender=first, queue="q", checkpoint=path)
    assert (report.sent, report.failed) == (24, 16)

    second = Sender()
    again = fan_out(items(40), sender=second, queue="q", checkpoint=path)

    assert (again.sent, again.skipped, again.resent) == (16, 24, 16)  # the failed batch was pending
    assert sorted(b for batch in second.batches for b in batch) == sorted(f"body-e{i}" for i in range(16, 32))
    assert Checkpoint(path).sent == {f"e{i}" for i in range(40)}


def test_a_batch_pending_when_a_run_died_is_sent_again_and_counted(tmp_path):
    path = tmp_path / "run.checkpoint"
    path.write_text(json.dumps({"pending": ["e0", "e1"]}) + "\n" + json.dumps({"sent": ["e0", "e1"]}) + "\n"
                    + json.dumps({"pending": ["e2", "e3"]}) + "\n" + '{"sent": ["e2"', encoding="utf-8")  # torn

    sender = Sender()
    report = fan_out(items(5), sender=sender, queue="q", checkpoint=path)

    assert sender.batches == [["body-e2", "body-e3", "body-e4"]]
    assert (report.sent, report.skipped, report.resent) == (3, 2, 2)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1]) == {"sent": ["e2", "e3", "e4"]}  # on a line of its own after the torn one


def test_repeated_ids_are_sent_once():
    sender = Sender()
    report = fan_out([("a", "1"), ("a", "1"), ("b", "2")], sender=sender, queue="q")
    assert sender.batches == [["1", "2"]]
    assert (report.sent, report.skipped) == (2, 1)
