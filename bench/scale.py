"""Benchmark 5: replay and backfill at scale (issue 28): events per second of a local replay and
of the fan-out through an MNS queue to four function instances, and ``track_jobs``' jobs per
minute, all against the emulator server answering after ``latency_ms``.

- ``local replay``: ``vodai replay --cloud``'s runner (concurrency 4, the CLI's default) on this
  machine, job records in SQLite; events/s from the first event to the last outcome.
- ``track_jobs``: the jobs that replay left pending, polled as the timer function does
  (``poll_once`` with the default ``VODAI_TRACKING_CONCURRENCY`` and page size), run after run
  until none is left; every job finishes at its first lookup (``--lifecycle '*:at_once'``), so
  each lookup is one finished job: jobs per minute of polling.
- ``fan-out``: ``vodai replay --to-queue`` into the emulator's events queue, the emulator's
  queue trigger delivering batches to four ``vodai serve --function on_upload`` instances (the
  shape FC gives the deployed function); events/s from the first send to the last job published.

Each measured process runs on FC's Python when it is there, as a fresh process per run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c  # noqa: E402

REPLAY_CONCURRENCY = 4
INSTANCES = 4
QUEUE = "vodai-events"
BATCH_SIZE = 10  # template.yml's EventsBatchSize default
_CLI = "from vodai.cli import main; main()"


# -- the worker: a local replay, then track_jobs until nothing is pending --------------------

def _worker(events: Path, url: str, store: str, concurrency: int) -> dict:
    os.environ.update(c.replay_env(url, store=store, tmp=events.parent))
    from vodai.logs import outcome_logger
    from vodai.pipeline import build
    from vodai.replay import Runner, open_target, read_sources
    from vodai.tracking.poller import poll_once

    outcome_logger().disabled = True  # vodai replay -q
    items = read_sources([str(events)])
    target = open_target(cloud=True)
    t0 = time.perf_counter()
    results = Runner(target, concurrency=concurrency).run(items)
    replay_s = time.perf_counter() - t0
    submitted = sum(o.status == "submitted" for r in results for o in r.outcomes)

    context = target.new_context()
    deps = build(target.settings, context=context, session=target.session)
    polls, completed = 0, 0
    t0 = time.perf_counter()
    while True:
        summary = poll_once(deps, context=context)
        polls += 1
        completed += summary.counts().get("completed", 0)
        if not summary.backlog or polls >= 1000:
            break
    poll_s = time.perf_counter() - t0
    getattr(target, "close", lambda: None)()
    return {"events": len(items), "submitted": submitted, "replay_s": replay_s,
            "completed": completed, "polls": polls, "poll_s": poll_s,
            "backlog": summary.backlog, "tracking_concurrency": target.settings.tracking_concurrency}


def worker_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale worker")
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--concurrency", type=int, default=REPLAY_CONCURRENCY)
    args = parser.parse_args(argv)
    print(json.dumps(_worker(args.events, args.url, args.store, args.concurrency)))
    return 0


# -- the driver ------------------------------------------------------------------------------

def replay_and_track(events: Path, tmp: Path, run: int, latency_ms: float) -> dict:
    """One local replay and the polls that follow it, against a fresh emulator server."""
    with c.emulator_server(latency_ms=latency_ms, extra_args=["--lifecycle", "*:at_once"]) as server:
        store = f"sqlite:///{tmp / f'scale-{run}.sqlite3'}"
        command = [str(c.bench_python()), "-m", "bench.scale", "worker", "--events", str(events),
                   "--url", server.url, "--store", store]
        proc = subprocess.run(command, capture_output=True, text=True, cwd=c.ROOT,
                              env={k: v for k, v in os.environ.items() if not k.startswith("VODAI_")})
        if proc.returncode != 0:
            raise RuntimeError(f"scale replay run {run} failed:\n{proc.stderr[-3000:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        published = server.topic_count()
    if out["submitted"] != out["events"] or out["completed"] != out["events"] or out["backlog"]:
        raise RuntimeError(f"scale run {run}: {out['submitted']} submitted, {out['completed']} completed, "
                           f"{out['backlog']} left of {out['events']} events")
    if published != 2 * out["events"]:  # a JobId message per submit and a result per finished job
        raise RuntimeError(f"scale run {run}: {published} messages published for {out['events']} events, not twice as many")
    out["replay_events_per_s"] = out["events"] / out["replay_s"]
    out["jobs_per_min"] = 60 * out["completed"] / out["poll_s"]
    return out


@contextlib.contextmanager
def serve_instance(env: dict, timeout: float = 60.0) -> Iterator[str]:
    """``vodai serve --function on_upload --port 0`` (the dev venv: the CLI needs click); yields its URL."""
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([str(c.PY311), "-c", _CLI, "serve", "--function", "on_upload", "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=out, stdin=subprocess.DEVNULL, env=env, text=True,
                                   cwd=c.ROOT)
        try:
            line = process.stdout.readline() if process.stdout else ""
            if " listening on " not in line:
                out.seek(0)
                raise RuntimeError(f"vodai serve did not start: {out.read()[-2000:]!r}")
            yield line.rsplit(" listening on ", 1)[1].strip()
        finally:
            c.stop(process)


def fan_out(events: Path, tmp: Path, run: int, latency_ms: float, redis_url: Optional[str]) -> dict:
    """``vodai replay --to-queue`` into the emulator's queue, its queue trigger delivering batches to
    ``INSTANCES`` instances sharing one job store; timed until every job is published."""
    count = sum(1 for line in events.read_bytes().splitlines() if line.strip())
    with c.emulator_server(latency_ms=latency_ms, extra_args=["--queue", QUEUE]) as server, \
            contextlib.ExitStack() as stack:
        store = redis_url or f"sqlite:///{tmp / f'fanout-{run}.sqlite3'}"
        env = c.handler_env(server.url, store=store, tmp=tmp)
        urls = [stack.enter_context(serve_instance(env)) for _ in range(INSTANCES)]
        targets = [a for url in urls for a in ("--target", url)]
        cli_env = dict(os.environ, ALIBABA_CLOUD_ACCESS_KEY_ID=c.AK, ALIBABA_CLOUD_ACCESS_KEY_SECRET=c.SECRET,
                       ALIBABA_CLOUD_SECURITY_TOKEN=c.TOKEN)
        subprocess.run([str(c.PY311), "-c", _CLI, "emulator", "queue-triggers", "add", "--queue", QUEUE, *targets,
                        "--batch-size", str(BATCH_SIZE), "--region", "cn-shanghai", "--url", server.url],
                       check=True, capture_output=True, env=cli_env, cwd=c.ROOT)
        t0 = time.perf_counter()
        sent = subprocess.run([str(c.PY311), "-c", _CLI, "replay", str(events), "--to-queue", QUEUE,
                               "--emulator-url", server.url, "--json", "--no-progress"],
                              capture_output=True, text=True, env=cli_env, cwd=c.ROOT)
        if sent.returncode != 0:
            raise RuntimeError(f"replay --to-queue failed:\n{sent.stderr[-3000:]}")
        send_s = time.perf_counter() - t0
        deadline = time.monotonic() + max(120.0, count / 5)
        while (published := server.topic_count()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fan-out run {run}: {published} of {count} jobs published in time")
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        jobs = len(server.control("jobs"))
    if jobs != count or published != count:
        raise RuntimeError(f"fan-out run {run}: {jobs} jobs and {published} messages for {count} events")
    return {"events": count, "wall_s": wall, "send_s": send_s, "events_per_s": count / wall,
            "store": "redis" if redis_url else "sqlite"}


def run_all(n_events: int, runs: int, latency_ms: float) -> dict:
    """``runs`` rounds of each measurement, ``n_events`` each, alternated; a figure is the median."""
    with tempfile.TemporaryDirectory(prefix="vodai-bench-scale-") as t, c.redis_server() as redis_url:
        tmp = Path(t)
        replay, jobs, fanned = [], [], []
        concurrency, store = None, None
        for run in range(runs):
            events = c.write_jsonl(tmp / f"scale-{run}.jsonl", n_events, tag=f"sc{run:02d}")
            out = replay_and_track(events, tmp, run, latency_ms)
            replay.append(out["replay_events_per_s"])
            jobs.append(out["jobs_per_min"])
            concurrency = out["tracking_concurrency"]
            fan = fan_out(c.write_jsonl(tmp / f"fanout-{run}.jsonl", n_events, tag=f"fo{run:02d}"), tmp, run,
                          latency_ms, redis_url)
            fanned.append(fan["events_per_s"])
            store = fan["store"]
            c.log(f"scale run {run + 1}/{runs}: local replay {out['replay_events_per_s']:.0f} events/s, "
                  f"track_jobs {out['jobs_per_min']:,.0f} jobs/min ({out['polls']} polls), fan-out "
                  f"{fan['events_per_s']:.0f} events/s (sent in {fan['send_s']:.1f} s of {fan['wall_s']:.1f} s)")
    return {"events": n_events, "runs": runs, "latency_ms": latency_ms,
            "replay_concurrency": REPLAY_CONCURRENCY, "tracking_concurrency": concurrency,
            "instances": INSTANCES, "batch_size": BATCH_SIZE, "fanout_store": store,
            "replay_events_per_s": c.summary(replay, 1), "track_jobs_per_min": c.summary(jobs, 0),
            "fanout_events_per_s": c.summary(fanned, 1)}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        sys.exit(worker_main(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    a = parser.parse_args()
    print(json.dumps(run_all(a.events, a.runs, a.latency_ms), indent=2))
