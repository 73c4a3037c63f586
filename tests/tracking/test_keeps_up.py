"""track_jobs keeps up: one run works through the pending set page after page until its budget is
spent, with bounded lookups in flight, and says what it left; the next runs finish the backlog."""

from __future__ import annotations

import time

from .helpers import harness

LATENCY = 0.02  # each lookup waits 20 ms at the emulator, as a nearby VOD endpoint might


def _pending_jobs(h, videos: int, images: int) -> None:
    h.upload("video", "cn-shanghai", videos)
    h.upload("image", "ap-southeast-1", images)


def test_a_small_budget_leaves_a_reported_backlog_that_later_runs_finish():
    h = harness(clock=time.time, tracking_budget=1.25, tracking_concurrency=4, tracking_poll_limit=100)
    h.backend.set_lifecycle("*", "at_once")  # a job checked is a job finished: the pending set shrinks
    _pending_jobs(h, 800, 200)
    assert len(h.deps.tracking.pending(2000)) == 1000
    for operation in ("GetAIImageJobs", "GetAIMediaAuditJob"):
        h.backend.faults.add(f"{operation}:latency={LATENCY}")
    h.backend.peak_in_flight(reset=True)

    runs = [h.poll()]
    while runs[-1].backlog and len(runs) < 20:
        runs.append(h.poll())

    first = runs[0]
    assert first.stopped == "budget" and first.pages >= 1
    assert first.backlog > 0 and first.backlog + first.counts().get("completed", 0) == 1000
    assert [r.backlog for r in runs] == sorted((r.backlog for r in runs), reverse=True)  # it only shrinks
    assert runs[-1].backlog == 0 and runs[-1].stopped == "done" and len(runs) > 1
    assert sum(r.counts().get("completed", 0) for r in runs) == 1000
    done = h.completions()
    assert len(done) == 1000 and len({m["JobId"] for m in done}) == 1000  # each published once
    assert h.deps.tracking.pending(10) == []
    assert 1 < h.backend.peak_in_flight() <= 4  # lookups (and their publishes) ran at once, never more than 4
    assert first.to_dict()["Backlog"] == first.backlog and first.to_dict()["Stopped"] == "budget"


def test_the_run_line_reports_the_backlog(caplog):
    h = harness(clock=time.time, tracking_budget=1.05, tracking_poll_limit=10)
    h.backend.set_lifecycle("*", "at_once")
    _pending_jobs(h, 40, 0)
    h.backend.faults.add("GetAIImageJobs:latency=0.1")
    with caplog.at_level("INFO", logger="vodai.outcome"):
        summary = h.poll()
    [line] = [r.getMessage() for r in caplog.records if '"Event":"PollDone"' in r.getMessage()]
    assert summary.backlog > 0 and f'"Backlog":{summary.backlog}' in line and '"Stopped":"budget"' in line
    assert '"level":"WARNING"' in line


def test_a_run_that_checked_every_pending_job_is_done_whatever_stopped_it():
    h = harness(tracking_poll_limit=100)
    h.backend.set_lifecycle("*", "at_once")
    _pending_jobs(h, 5, 0)
    short = h.poll(limit=3)
    assert (short.stopped, short.backlog) == ("limit", 2)
    exact = h.poll(limit=2)  # the limit is reached exactly as the last one is checked: nothing is left
    assert (exact.stopped, exact.backlog) == ("done", 0)
