"""The replay library without the command: the token bucket (on an injected clock), the runner's
ordering, errors and interruption, and the failure file's lines."""

import json
import threading
from datetime import datetime, timezone

import pytest

from conftest import EVENTS
from vodai.deadletter import DeadLetter, decode_event
from vodai.pipeline import FAILED, InvocationResult, Outcome
from vodai.replay import Item, ItemResult, Runner, Summary, TokenBucket, failure_line, read_sources, write_failures
from vodai.replay.sources import read_jsonl


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []
        self._lock = threading.Lock()

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


def test_token_bucket_spaces_events_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(4, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert clock.now == pytest.approx(101.0)  # 5 events at 4/s: the first at once, then one every 0.25 s


def test_token_bucket_refills_while_idle_but_never_above_capacity():
    clock = FakeClock()
    bucket = TokenBucket(2, capacity=3, clock=clock, sleep=clock.sleep)
    clock.now += 60  # a long pause saves up at most `capacity` tokens
    assert [bucket.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_token_bucket_waiters_queue_up_and_a_batch_pays_for_each_event():
    clock = FakeClock()
    bucket = TokenBucket(2, clock=clock, sleep=clock.sleep)
    # Reservations made at the same instant (threads arriving together) wait in line, not all 0.5 s.
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
    clock.now += 10
    assert bucket.reserve(5) == pytest.approx(2.0)  # a batch of 5 events: 1 token saved, 4 more at 2/s


def test_token_bucket_rate_zero_never_waits():
    clock = FakeClock()
    bucket = TokenBucket(0, clock=clock, sleep=clock.sleep)
    assert all(bucket.acquire(100) == 0 for _ in range(1000)) and clock.slept == []
    with pytest.raises(ValueError):
        TokenBucket(-1)


class FakeTarget:
    """Just enough of a LocalTarget: records invocations, answers from a function."""

    def __init__(self, answer, settings=None):
        from vodai.local import emulator_target

        real = emulator_target()
        self.settings, self.routes = settings or real.settings, real.routes
        self.answer = answer
        self.calls = []
        self._lock = threading.Lock()

    def new_context(self):
        from vodai.local_context import LocalContext

        return LocalContext()

    def invoke(self, raw, context):
        with self._lock:
            self.calls.append(raw)
        return self.answer(raw)


class RecordingBucket(TokenBucket):
    def __init__(self):
        super().__init__(0)
        self.taken = []

    def acquire(self, n=1.0):
        self.taken.append(n)
        return 0.0


def test_the_runner_takes_one_token_per_event_and_skips_unreadable_items():
    target = FakeTarget(lambda raw: InvocationResult("r", []))
    bucket = RecordingBucket()
    items = read_sources([str(EVENTS / "cloudevent-batch" / "video-cn-shanghai.json"), str(EVENTS / "raw" / "video-cn-beijing.json")])
    items.append(Item("x.jsonl", 3, error="not JSON"))
    results = Runner(target, bucket=bucket, concurrency=1).run(items)
    assert sorted(bucket.taken) == [1, 2]  # the batch holds two events
    assert len(target.calls) == 2 and [r.position for r in results] == [0, 1, 2]


def test_an_item_whose_invocation_raises_fails_alone():
    def answer(raw):
        if b"cn-beijing" in raw:
            raise RuntimeError("store down")
        return InvocationResult("r", [Outcome(0, "submitted")])

    target = FakeTarget(answer)
    items = read_sources([str(EVENTS / "raw" / "video-cn-beijing.json"), str(EVENTS / "raw" / "video-cn-shanghai.json")])
    results = Runner(target, concurrency=2).run(items)
    summary = Summary(results, prefix="vodai")
    assert results[0].error == "RuntimeError: store down" and results[1].error is None
    assert summary.counts()["failed"] == 1 and summary.counts()["submitted"] == 1 and summary.exit_status == 1
    assert [r.item.source for r in summary.retry_results] == [items[0].source]


def test_an_interrupted_replay_lets_running_items_finish_and_lists_the_others_as_failed():
    runner = None
    second_running = threading.Event()

    def answer(raw):
        if b"attached" not in raw:  # the items after the first: finish only once Ctrl-C has been handled
            second_running.set()
            assert runner.stopping.wait(30)
        return InvocationResult("r", [Outcome(0, "submitted")])

    target = FakeTarget(answer)
    items = read_sources([str(EVENTS / "raw")])
    assert b"attached" in items[0].raw and len(items) > 3
    runner = Runner(target, concurrency=1)

    def ctrl_c(result):  # on_result runs in the main thread, where Python delivers SIGINT
        assert second_running.wait(30)  # Ctrl-C while the second item is being submitted
        raise KeyboardInterrupt

    results = runner.run(items, on_result=ctrl_c)
    summary = Summary(results, prefix="vodai", interrupted=runner.interrupted)
    assert runner.interrupted and summary.exit_status == 1
    assert len(target.calls) == 2  # the first item, and the one running when Ctrl-C came; no other started
    assert [r.error for r in results[:2]] == [None, None] and all(o.status == "submitted" for r in results[:2] for o in r.outcomes)
    assert all(r.error and r.error.startswith("interrupted") for r in results[2:])
    assert len(summary.retry_results) == len(items) - 2


class Crash(BaseException):
    """Not an Exception: run_one does not keep it to its item (as SystemExit or a MemoryError-like stop)."""


def test_a_worker_that_dies_stops_the_run_and_its_error_reaches_the_caller():
    runner = None
    other_running = threading.Event()

    def answer(raw):
        if b"attached" in raw:
            assert other_running.wait(30)
            raise Crash("worker died")
        other_running.set()
        assert runner.stopping.wait(10)  # finishes only once the crash has been seen
        return InvocationResult("r", [Outcome(0, "submitted")])

    target = FakeTarget(answer)
    items = read_sources([str(EVENTS / "raw")])
    items = [i for i in items if b"attached" in i.raw][:1] + [i for i in items if b"attached" not in i.raw]
    assert len(items) > 3
    runner = Runner(target, concurrency=2, workers=2)
    with pytest.raises(Crash, match="worker died"):
        runner.run(items)
    assert len(target.calls) == 2  # the crash, and the item the other worker was running; nothing after


def test_an_error_in_on_result_stops_the_run_without_starting_other_items():
    runner = None
    second_running = threading.Event()

    def answer(raw):
        if len(target.calls) > 1:
            second_running.set()
            assert runner.stopping.wait(10)  # the items after the first: finish only once the error was seen
        return InvocationResult("r", [Outcome(0, "submitted")])

    def report(result):
        assert second_running.wait(10)  # the error comes while the second item runs
        raise OSError("terminal gone")

    target = FakeTarget(answer)
    items = read_sources([str(EVENTS / "raw")])
    assert len(items) > 3
    runner = Runner(target, concurrency=1, workers=1)
    with pytest.raises(OSError, match="terminal gone"):
        runner.run(items, on_result=report)
    assert len(target.calls) == 2  # the first item, and the one running when the error came; no other


def test_one_runner_replays_twice_and_reports_every_item_in_the_main_thread():
    target = FakeTarget(lambda raw: InvocationResult("r", [Outcome(0, "submitted")]))
    items = read_sources([str(EVENTS / "raw")])
    runner = Runner(target, concurrency=2)
    for _ in range(2):
        seen = []
        results = runner.run(items, on_result=lambda r: seen.append((r.position, threading.current_thread())))
        assert [r.position for r in results] == list(range(len(items))) and all(r.error is None for r in results)
        assert sorted(p for p, _ in seen) == list(range(len(items)))
        assert {t for _, t in seen} == {threading.main_thread()}
    assert len(target.calls) == 2 * len(items) and not runner.stopping.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("vodai-replay")]  # no worker left behind



def test_results_wait_for_the_interval_or_a_worker_that_ends_never_for_the_whole_interval(monkeypatch):
    # The main thread is not woken per item; it drains finished items every RESULT_INTERVAL and at
    # once when a worker ends. With an interval longer than the test's bound, a run that ended
    # only on the interval would never finish in time: the ending workers must wake it.
    import vodai.replay.runner as runner_module

    monkeypatch.setattr(runner_module, "RESULT_INTERVAL", 3600)
    target = FakeTarget(lambda raw: InvocationResult("r", [Outcome(0, "submitted")]))
    items = read_sources([str(EVENTS / "raw")])
    seen, out = [], []
    run = threading.Thread(target=lambda: out.append(Runner(target, concurrency=3).run(items, on_result=seen.append)), daemon=True)
    run.start()
    run.join(30)
    assert not run.is_alive(), "the run waited for the interval although every worker had ended"
    assert [r.position for r in out[0]] == list(range(len(items))) and sorted(r.position for r in seen) == list(range(len(items)))

def _failed(item):
    return ItemResult(item, 0, outcomes=[Outcome(0, FAILED, reason="TransportError: connection refused")])


def test_failure_lines_replay_to_the_same_event():
    pretty = (EVENTS / "raw" / "video-cn-shanghai.json").read_bytes()
    assert b"\n" in pretty.strip()
    not_json = (EVENTS / "raw-base64" / "video-cn-beijing.json").read_bytes()
    one_line = b'{"a":1}'
    lines = [failure_line(_failed(Item("f", raw=raw))) for raw in (pretty, not_json, one_line)]
    assert all(b"\n" not in line for line in lines)
    assert json.loads(lines[0]) == json.loads(pretty)
    letter = json.loads(lines[1])
    assert DeadLetter.is_dead_letter(letter) and letter["Reason"] == "replay of f: TransportError: connection refused"
    assert decode_event(letter["Event"], letter["EventEncoding"]) == not_json
    assert lines[2] == one_line
    back = read_jsonl(b"\n".join(lines), "failed.jsonl")
    assert [i.raw for i in back][1:] == [not_json, one_line] and json.loads(back[0].raw) == json.loads(pretty)
    # An unreadable line is kept as it was, for a person to fix.
    assert failure_line(ItemResult(Item("f", 2, error="not JSON", text=b"{oops"), 0)) == b"{oops"


def test_failure_files_never_overwrite_each_other(tmp_path):
    results = [_failed(Item("f", raw=b'{"a":1}')), ItemResult(Item("g", raw=b'{"b":2}'), 1, outcomes=[Outcome(0, "submitted")])]
    now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    first = write_failures(results, tmp_path, now=now)
    second = write_failures(results, tmp_path, now=now)
    assert first.name == "failed-20240506T070809Z.jsonl" and second != first
    assert first.read_bytes() == second.read_bytes() == b'{"a":1}\n'  # only the item that did not finish
    assert write_failures(results[1:], tmp_path, now=now) is None


class ReadCountingStore:
    """The target's own store, counting the reads the runner makes of it."""

    def __init__(self, store):
        self.store, self.reads = store, []

    def get(self, key):
        self.reads.append(key)
        return self.store.get(key)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_the_runner_reads_job_records_only_for_duplicates(monkeypatch, tmp_path):
    # A record read per key before every item cost a query per event: new uploads (a backlog's
    # whole) need none. Only a skipped duplicate is looked up, to tell an UNCERTAIN one apart.
    from vodai.idempotency import job_key
    from vodai.local import emulator_target
    from vodai.pipeline import SUBMITTED, plan
    from vodai.replay import store_of

    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    target = emulator_target()
    store = ReadCountingStore(store_of(target))
    shanghai, beijing = EVENTS / "raw" / "video-cn-shanghai.json", EVENTS / "raw" / "video-cn-beijing.json"
    results = Runner(target, concurrency=2, store=store).run(read_sources([str(shanghai), str(beijing)]))
    assert [o.status for r in results for o in r.outcomes] == [SUBMITTED, SUBMITTED]
    assert store.reads == []

    keys = [job_key(target.settings.namespace, d.action, d.media_id, d.template_id)
            for sample in (shanghai, beijing)
            for d in plan(sample.read_bytes(), settings=target.settings, routes=target.routes).outcomes]
    store.mark_uncertain(keys[1], reason="answer lost", now=0.0)
    results = Runner(target, concurrency=2, store=store).run(read_sources([str(shanghai), str(beijing)]))
    assert [o.duplicate for r in results for o in r.outcomes] == [True, True]
    assert sorted(store.reads) == sorted(keys)  # one read per duplicate
    assert [r.uncertain for r in results] == [[], [keys[1]]]
