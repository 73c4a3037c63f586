"""The crash soak: a replay of uploads through real processes (the emulator as an HTTP server, the
pipeline in a worker process, a real redis-server or SQLite as the store), with faults, the worker
killed with SIGKILL at random moments and a Redis outage in the middle, then run to the end.

The books: no upload with two jobs, no upload with neither a job nor an UNCERTAIN outcome, and
every JobId vodai learned published at least once. Used by ``make soak`` (``--crash``) and, shorter,
by tests/reliability/test_crash_soak.py.

    python tests/reliability/crash_soak.py --uploads 500 --kills 5 --store redis
    python tests/reliability/crash_soak.py worker --events F --done F --store URL --endpoint URL
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List, Optional

HERE = Path(__file__).resolve().parent
AK, SECRET, TOKEN = "STS.crash-soak", "crash-soak-secret-Qw7", "crash-soak-token-Lp3"
TOPIC = "vodai-callback"
CONCURRENCY = 8
MAX_DELIVERIES = 400  # per delivery and worker run; a store outage fails many in a row
FAULTS = [
    "SubmitAIImageJob:lost,p=0.01",  # processed, answer lost: the UNCERTAIN path
    "*:error=Throttling.User/400,p=0.1",
    "*:error=InternalError/500,p=0.0556",
    "*:reset,p=0.0235",
    "*:latency=0.01",  # every other call: slow enough that a kill lands mid-work
]


# -- the worker: a stand-in for FC running the handler, delivery after delivery ------------------

def worker(events: Path, done: Path, store_url: str, endpoint: str, dead_letters: Path) -> None:
    from vodai.config import Settings
    from vodai.deadletter.backends.jsonl import JsonlDirectorySink
    from vodai.idempotency import open_store
    from vodai.local_context import LocalContext, LocalCredentials
    from vodai.pipeline import FINAL, build, dispatch

    finished = _done_indices(done)
    todo = deque(d for d in map(json.loads, events.read_text().splitlines()) if d["i"] not in finished)
    settings = Settings(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic=TOPIC,
                        vod_endpoint=endpoint, mns_endpoint=endpoint, idempotency_lock_seconds=1)
    context = LocalContext(credentials=LocalCredentials(AK, SECRET, TOKEN))
    deps = build(settings, context=context, store=open_store(store_url), dead_letters=JsonlDirectorySink(str(dead_letters)))
    deps = replace(deps, sleep=lambda s: time.sleep(min(s, 0.05)))
    lock = threading.Lock()
    out = done.open("a", buffering=1)

    def run() -> None:
        while True:
            with lock:
                if not todo:
                    return
                d = todo.popleft()
            d["n"] = d.get("n", 0) + 1
            try:
                [o] = dispatch(base64.b64decode(d["raw"]), deps, context=context).outcomes
                status, job_id, reason = o.status, o.job_id, o.reason or ""
            except Exception as exc:  # the old code let store errors escape: a failed delivery
                status, job_id, reason = "failed", None, f"{type(exc).__name__}: {exc}"
            if status in FINAL or d["n"] >= MAX_DELIVERIES:
                with lock:
                    out.write(json.dumps({"i": d["i"], "media": d["media"], "status": status, "job_id": job_id,
                                          "reason": reason}) + "\n")
            else:
                time.sleep(0.02)  # redelivered, as FC/MNS would
                with lock:
                    todo.append(d)

    threads = [threading.Thread(target=run) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _done_indices(done: Path) -> set:
    found = set()
    if done.exists():
        for line in done.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line cut off by the SIGKILL
                found.add(json.loads(line)["i"])
    return found


# -- the driver ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProcess:
    """A real redis-server with AOF on (fsync always), stopped and started again on its port and dir."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.dir, self.port = binary, workdir / "redis", _free_port()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    client.close()
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@dataclass
class CrashReport:
    store: str
    uploads: int
    deliveries: int
    kills: int
    outage_seconds: float
    worker_runs: int
    jobs: int
    uploads_with_two_jobs: int
    uploads_with_neither: int
    uncertain: int
    unpublished_job_ids: int
    jobs_of_uncertain_uploads: int
    statuses: Counter = field(default_factory=Counter)
    problems: List[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("store", self.store), ("uploads", self.uploads), ("deliveries (with duplicates)", self.deliveries),
            ("SIGKILLs", self.kills), ("Redis outage (s)", self.outage_seconds), ("worker runs", self.worker_runs),
            *((f"outcomes: {k}", v) for k, v in sorted(self.statuses.items())),
            ("jobs in VOD", self.jobs), ("uploads with two jobs", self.uploads_with_two_jobs),
            ("uploads with neither a job nor UNCERTAIN", self.uploads_with_neither),
            ("UNCERTAIN uploads", self.uncertain), ("  of which VOD has the job", self.jobs_of_uncertain_uploads),
            ("JobIds learned but never published", self.unpublished_job_ids),
        ]
        return "\n".join(f"| {name} | {value} |" for name, value in rows)


def _uncertain(row: dict) -> bool:
    reason = row.get("reason") or ""
    return "submit outcome unknown" in reason or "outcome is unknown" in reason


def run_crash_soak(uploads: int, kills: int, store: str, seed: int, workdir: Path, *,
                   outage: float = 2.0, python: str = sys.executable) -> CrashReport:
    """Run the crash soak; ``store``: ``redis`` (a real redis-server, with an outage) or ``sqlite``."""
    sys.path.insert(0, str(HERE.parent))
    from _servers import emulator_server

    from vodai.events import samples

    rng = random.Random(seed)
    deliveries = []
    for i in range(uploads):
        media_id = f"crash{i:06d}"
        body = samples.body("video", region="cn-shanghai", media_id=media_id)
        deliveries.append({"media": media_id, "raw": base64.b64encode(samples.wrap(body, "raw")).decode()})
    deliveries += [dict(d) for d in deliveries if rng.random() < 0.10]
    rng.shuffle(deliveries)
    for i, d in enumerate(deliveries):
        d["i"] = i
    events, done, dead = workdir / "events.jsonl", workdir / "done.jsonl", workdir / "dead-letters"
    events.write_text("".join(json.dumps(d) + "\n" for d in deliveries))

    redis_proc = None
    if store == "redis":
        import shutil

        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        redis_proc = RedisProcess(binary, workdir)
        redis_proc.start()
        store_url = redis_proc.url
    else:
        store_url = f"sqlite:///{workdir / 'idem.sqlite3'}"

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    runs, killed, outage_done = 0, 0, 0.0
    try:
        with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,), faults=FAULTS, seed=seed) as server:
            def start() -> subprocess.Popen:
                return subprocess.Popen(
                    [python, str(Path(__file__).resolve()), "worker", "--events", str(events), "--done", str(done),
                     "--store", store_url, "--endpoint", server.url, "--dead-letters", str(dead)],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            while True:
                proc = start()
                runs += 1
                if killed >= kills:
                    proc.wait(timeout=1800)
                    if len(_done_indices(done)) >= len(deliveries) or runs > kills + 20:
                        break
                    continue
                # A random moment: after a random share of what is left has finished.
                left = len(deliveries) - len(_done_indices(done))
                target = len(_done_indices(done)) + rng.randint(1, max(1, left // (kills - killed + 1)))
                while proc.poll() is None and len(_done_indices(done)) < target:
                    time.sleep(0.01)
                if redis_proc is not None and killed == kills // 2 and not outage_done and proc.poll() is None:
                    redis_proc.stop()  # an outage while the worker runs: every store call fails
                    time.sleep(outage)
                    redis_proc.start()
                    outage_done = outage
                time.sleep(rng.uniform(0, 0.05))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    killed += 1
            jobs = server.jobs()
            published = {json.loads(m["MessageBody"]).get("JobId") for m in server.topic_messages(TOPIC)}
    finally:
        if redis_proc is not None:
            redis_proc.stop()

    rows = [json.loads(line) for line in done.read_text().splitlines() if line.strip().endswith("}")]
    statuses = Counter(r["status"] for r in rows)
    uncertain = {r["media"] for r in rows if _uncertain(r)}
    per_media = Counter(j.get("VideoId") or j.get("MediaId") for j in jobs)
    media = {d["media"] for d in deliveries}
    learned = {r["job_id"] for r in rows if r.get("job_id")}
    report = CrashReport(
        store=store, uploads=len(media), deliveries=len(deliveries), kills=killed, outage_seconds=outage_done,
        worker_runs=runs, jobs=len(jobs), statuses=statuses,
        uploads_with_two_jobs=sum(1 for m in media if per_media[m] > 1),
        uploads_with_neither=sum(1 for m in media if per_media[m] == 0 and m not in uncertain),
        uncertain=len(uncertain), jobs_of_uncertain_uploads=sum(1 for m in uncertain if per_media[m]),
        unpublished_job_ids=len(learned - published),
    )
    if report.uploads_with_two_jobs:
        report.problems.append(f"{report.uploads_with_two_jobs} uploads with two jobs")
    if report.uploads_with_neither:
        report.problems.append(f"{report.uploads_with_neither} uploads with neither a job nor an UNCERTAIN record")
    if report.unpublished_job_ids:
        report.problems.append(f"{report.unpublished_job_ids} JobIds never published")
    if len(_done_indices(done)) < len(deliveries):
        report.problems.append(f"{len(deliveries) - len(_done_indices(done))} deliveries never finished")
    return report


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="vodai crash soak: SIGKILLs and a Redis outage; the books must balance")
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker")
    for name in ("--events", "--done", "--store", "--endpoint", "--dead-letters"):
        w.add_argument(name, required=True)
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--store", action="append", choices=("redis", "sqlite"))
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.command == "worker":
        worker(Path(args.events), Path(args.done), args.store, args.endpoint, Path(args.dead_letters))
        return 0
    failed = False
    for store in args.store or ["redis", "sqlite"]:
        with tempfile.TemporaryDirectory(prefix="vodai-crash-soak-") as tmp:
            report = run_crash_soak(args.uploads, args.kills, store, args.seed, Path(tmp))
        print(f"| crash soak ({store}) | |\n|---|---|\n" + report.table() + "\n")
        for problem in report.problems:
            print("PROBLEM:", problem, file=sys.stderr)
        failed = failed or bool(report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
