"""Benchmark 4: replay throughput against the emulator **server** (real HTTP), vodai against
raw keep-alive requests, at several concurrencies, alternated run by run.

``--busy N`` replays with N processes spinning on a CPU each, the whole time: a machine under load,
reproducibly (not part of ``make bench``). On two cores, one busy process leaves ``raw`` at
concurrency 1 a core of its own (its client and the server take turns), and takes one from vodai,
whose second worker per connection runs beside the server.

The N saved events (JSONL, each a new video upload in cn-shanghai as an MNS topic trigger
delivers it) are split into K equal parts; every implementation replays every part, the parts
alternated between implementations (rotated order). Each part is a fresh process
(``python -m bench.replay_throughput worker ...``) against a fresh ``vodai emulator`` server
process, so no part inherits another's state (the emulator keeps every job, message, nonce and
request in memory). A figure is the median events/s over the K parts; the timer covers only the
replay itself, not reading the file or importing. With ``--segments 1`` it is one run of all N.

- ``vodai``: ``vodai.replay.Runner`` (what ``vodai replay --cloud`` runs) on ``cloud_target``
  pointed at the server, at most ``concurrency`` connections to it (a request waits for a free one)
  and twice as many workers: per event, decide (parse, region, route: the job keys to lock), claim,
  V3-signed ``SubmitAIImageJob``, save, MNS-signed ``PublishMessage``, track, complete, one outcome.
  Job records in SQLite (replay's default store: the job and tracking tables in one file, one
  connection), in a fresh file per run; outcome log lines off (``vodai replay -q``).
- ``raw``: the same signed request pair per event and nothing else: ``http.client``, one
  keep-alive connection per worker thread, requests signed by hand
  (:func:`bench.baselines.stdlib_floor.submit_and_publish`). The most a client can get out of
  this server at that concurrency; both are threads in one process (one GIL).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c  # noqa: E402

IMPLS = ("vodai", "raw")


# -- the worker (one run, in its own process) ------------------------------------------------

def _worker_vodai(events: Path, url: str, concurrency: int, store: str) -> dict:
    os.environ.update(c.replay_env(url, store=store, tmp=events.parent))
    from vodai.logs import outcome_logger
    from vodai.replay import Runner, open_target, read_sources

    outcome_logger().disabled = True  # vodai replay -q
    items = read_sources([str(events)])
    target = open_target(cloud=True)
    runner = Runner(target, concurrency=concurrency)
    cpu0, t0 = _cpu(), time.perf_counter()
    results = runner.run(items)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    counts: Dict[str, int] = {}
    for r in results:
        if r.error:
            counts["error"] = counts.get("error", 0) + 1
        for o in r.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
    getattr(target, "close", lambda: None)()
    return {"wall_s": wall, "cpu_s": cpu, "events": len(items), "counts": counts}


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far: all its threads."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the emulator server process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_raw(events: Path, url: str, concurrency: int) -> dict:
    sys.path.insert(0, str(c.BENCH / "baselines"))
    import stdlib_floor

    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    lock = threading.Lock()
    position = [0]
    counts = {"submitted": 0, "error": 0}
    creds = (c.AK, c.SECRET, c.TOKEN)

    def work() -> None:
        conn, host = stdlib_floor.connect(url)
        done = errors = 0
        while True:
            with lock:
                n = position[0]
                position[0] += 1
            if n >= len(lines):
                break
            try:
                stdlib_floor.submit_and_publish(lines[n], creds, conn, host, template=c.TEMPLATE, topic=c.TOPIC)
                done += 1
            except Exception:  # counted, never silent: the run is then reported as failed
                errors += 1
                conn.close()
                conn, host = stdlib_floor.connect(url)
        conn.close()
        with lock:
            counts["submitted"] += done
            counts["error"] += errors

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    cpu0, t0 = _cpu(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    return {"wall_s": wall, "cpu_s": cpu, "events": len(lines), "counts": counts}


def worker_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_throughput worker")
    parser.add_argument("impl", choices=IMPLS)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--store", default="")
    args = parser.parse_args(argv)
    if args.impl == "vodai":
        out = _worker_vodai(args.events, args.url, args.concurrency, args.store)
    else:
        out = _worker_raw(args.events, args.url, args.concurrency)
    print(json.dumps(out))
    return 0


# -- the driver ------------------------------------------------------------------------------

def one_run(impl: str, events: Path, concurrency: int, tmp: Path, run: int, latency_ms: float = 0.0) -> dict:
    """One part: a fresh emulator server (answering after ``latency_ms``), one worker process on
    FC's Python when it is there; checks every event was submitted and published."""
    with c.emulator_server(latency_ms=latency_ms) as server:
        store = f"sqlite:///{tmp / f'replay-{impl}-{concurrency}-{run}-{latency_ms:g}.sqlite3'}"
        command = [str(c.bench_python()), "-m", "bench.replay_throughput", "worker", impl, "--events", str(events),
                   "--url", server.url, "--concurrency", str(concurrency), "--store", store]
        server_cpu0 = _server_cpu(server.process.pid)
        proc = subprocess.run(command, capture_output=True, text=True, cwd=c.ROOT,
                              env={k: v for k, v in os.environ.items() if not k.startswith("VODAI_")})
        server_cpu = _server_cpu(server.process.pid) - server_cpu0
        if proc.returncode != 0:
            raise RuntimeError(f"replay {impl} c={concurrency} failed:\n{proc.stderr[-3000:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        published = server.topic_count()
    submitted = out["counts"].get("submitted", 0)
    if submitted != out["events"] or published != out["events"]:
        raise RuntimeError(f"replay {impl} c={concurrency}: {submitted} submitted, {published} published "
                           f"of {out['events']} events: {out['counts']}")
    out["events_per_s"] = out["events"] / out["wall_s"]
    # Where the time goes, per event: the client's CPU during the replay and the server's.
    out["client_cpu_ms"] = 1000 * out.get("cpu_s", float("nan")) / out["events"]
    out["server_cpu_ms"] = 1000 * server_cpu / out["events"]
    return out


# Spins until killed, or until the process that started it is gone (Linux: the parent's death
# signal), so that a bench killed with SIGKILL leaves no process spinning behind it.
_SPIN = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() == int(sys.argv[1]):  # else the parent died before prctl
    print("spinning", flush=True)
    while True:
        pass
"""


@contextlib.contextmanager
def busy_processes(count: int):
    """``count`` processes that spin on a CPU each until the block ends (a loaded machine); yields
    them (``subprocess.Popen``) once every one of them spins."""
    spinning: List[subprocess.Popen] = []
    try:
        for _ in range(count):
            spinning.append(subprocess.Popen([sys.executable, "-c", _SPIN, str(os.getpid())],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE))
        for p in spinning:
            p.stdout.readline()  # "spinning": started, and bound to this process's life
        yield spinning
    finally:
        for p in spinning:
            p.kill()
        for p in spinning:
            p.wait()
            p.stdout.close()


def run_all(n_events: int, concurrencies: List[int], segments: int, impls=IMPLS, busy: int = 0,
            latency_ms: float = 0.0, loopback: List[int] = (), per_connection: bool = False) -> dict:
    """Every impl replays all ``n_events``, in ``segments`` equal parts; the parts of the impls are
    alternated (rotated order), each against a fresh server answering after ``latency_ms``. A
    figure is the median over the parts. ``loopback``: concurrencies replayed again against a
    server without added latency (rows marked ``loopback``). ``busy``: that many processes spin
    on a CPU each meanwhile."""
    per = max(1, n_events // segments)
    with tempfile.TemporaryDirectory(prefix="vodai-bench-replay-") as t, busy_processes(busy) as spinning:
        tmp = Path(t)
        def files_for(conc: int) -> List[Path]:
            count = per * conc if per_connection else per
            return [c.write_jsonl(tmp / f"events-{count}-{seg}.jsonl", count, tag=f"rp{seg:02d}")
                    for seg in range(segments)]
        rows = []
        plan = [(conc, latency_ms) for conc in concurrencies]
        if latency_ms:
            plan += [(conc, 0.0) for conc in loopback]
        for conc, latency in plan:
            samples: Dict[str, List[float]] = {impl: [] for impl in impls}
            cpu: Dict[str, List[float]] = {f"{impl}/{side}": [] for impl in impls for side in ("client", "server")}
            walls: Dict[str, float] = {impl: 0.0 for impl in impls}
            for seg, events in enumerate(files_for(conc)):
                order = list(impls[seg % len(impls):]) + list(impls[: seg % len(impls)])
                for impl in order:
                    out = one_run(impl, events, conc, tmp, seg, latency)
                    samples[impl].append(out["events_per_s"])
                    cpu[f"{impl}/client"].append(out["client_cpu_ms"])
                    cpu[f"{impl}/server"].append(out["server_cpu_ms"])
                    walls[impl] += out["wall_s"]
                    c.log(f"replay {impl} c={conc} +{latency:g} ms part {seg + 1}/{segments}: {out['events_per_s']:.0f} events/s "
                          f"({out['events']} events, {out['wall_s']:.1f} s; CPU per event: client "
                          f"{out['client_cpu_ms']:.2f} ms, server {out['server_cpu_ms']:.2f} ms)")
            row = {"concurrency": conc, "latency_ms": latency, "loopback": bool(latency_ms) and not latency,
                   "events": (per * conc if per_connection else per) * segments}
            for impl in impls:
                key = impl.replace("-", "_")
                row[f"{key}_events_per_s"] = c.summary(samples[impl], 1)
                row[f"{key}_wall_s"] = round(walls[impl], 2)
                row[f"{key}_client_cpu_ms"] = c.summary(cpu[f"{impl}/client"], 2)
                row[f"{key}_server_cpu_ms"] = c.summary(cpu[f"{impl}/server"], 2)
                if impl != "raw":
                    row[f"{key}_ratio"] = c.ratio(samples[impl], samples["raw"])
            row["raw_requests_per_s"] = c.summary([2 * v for v in samples["raw"]], 1)
            rows.append(row)
        # How many were still spinning when the last part ended: the load was there throughout.
        spun = sum(p.poll() is None for p in spinning)
        return {"events": per * segments, "per_connection": per_connection, "latency_ms": latency_ms,
                "segments": segments, "events_per_segment": per,
                "store": "sqlite (a fresh file per part)", "impls": list(impls), "busy": spun, "rows": rows}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        sys.exit(worker_main(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the server's added latency per answer")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="N processes spinning on a CPU each during the runs (a loaded machine)")
    a = parser.parse_args()
    print(json.dumps(run_all(a.events, [int(x) for x in a.concurrency.split(",")], a.segments, busy=a.busy,
                                latency_ms=a.latency_ms), indent=2))
