"""vodai's benchmark suite: vodai against a handler written with the official SDKs (and against
the standard-library floor), measured alternately in the same run on this machine.

    .venv/bin/python bench/run.py                      # the five benchmarks (make bench), about 12 min
    .venv/bin/python bench/run.py --quick --out /tmp/b # tiny counts: checks that it all runs
    .venv/bin/python bench/run.py --benchmarks cold,runtime --repeat 20

Benchmarks (``--benchmarks``, comma-separated):
  cold         cold start: fresh process, import, one event end to end over HTTP (bench/coldstart.py)
  runtime      custom runtime: bootstrap to the first /invoke answer (bench/custom_runtime.py)
  warm         warm overhead per event, network taken out (bench/warm.py)
  replay       replay throughput against the emulator server (bench/replay_throughput.py)
  scale        local replay, fan-out through a queue to 4 instances, track_jobs (bench/scale.py)

Writes ``<out>/latest.json`` and ``<out>/latest.md`` (default ``bench/results/``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import coldstart, common as c, custom_runtime, report  # noqa: E402

ALL = DEFAULT = ("cold", "runtime", "warm", "replay", "scale")
# Cold-start rounds and replay parts of a full run: with 24 rounds a noisy run moved one row's
# ratio of medians by up to 0.04, with 4 parts a replay ratio by up to 0.1.
ROUNDS = 40
REPLAY_SEGMENTS = 8
# What a request to VOD or MNS costs from FC in the same region, about: the emulator server waits
# this long before every answer (vodai emulator --latency-ms), so both handlers pay it equally.
LATENCY_MS = 20.0
# Events replayed per implementation at concurrency 1, and concurrency times as many at higher
# ones: against 20 ms per request, concurrency 1 is about 21 events/s, so a part of 100 events
# lasts about 5 s at every concurrency.
REPLAY_EVENTS = 800
# Events per scale run (bench/scale.py), and runs: about 30 s a run at 20 ms per request.
SCALE_EVENTS = 2000
SCALE_RUNS = 3


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--quick", action="store_true", help="tiny counts, to check that the suite runs (the smoke test)")
    p.add_argument("--repeat", type=int, default=None, help=f"cold-start rounds (default {ROUNDS}; quick 1)")
    p.add_argument("--benchmarks", default=",".join(DEFAULT),
                   help=f"which to run, of {','.join(ALL)} (default: {','.join(DEFAULT)})")
    p.add_argument("--warm-events", type=int, default=None, help="events per warm run (default 1500; quick 20)")
    p.add_argument("--warm-runs", type=int, default=None, help="warm runs per mode (default 3; quick 1)")
    p.add_argument("--replay-events", type=int, default=None, help="events replayed per implementation at "
                   f"concurrency 1, times the concurrency at higher ones (default {REPLAY_EVENTS}; quick 16)")
    p.add_argument("--replay-segments", type=int, default=None,
                   help=f"alternated parts those events are replayed in (default {REPLAY_SEGMENTS}; quick 1)")
    p.add_argument("--concurrency", default="1,4,8", help="replay concurrencies (default 1,4,8)")
    p.add_argument("--loopback-concurrency", default="4",
                   help="replay concurrencies also run on loopback, without the added latency (default 4)")
    p.add_argument("--scale-events", type=int, default=None,
                   help=f"events per scale run (default {SCALE_EVENTS}; quick 20)")
    p.add_argument("--scale-runs", type=int, default=None, help=f"scale runs (default {SCALE_RUNS}; quick 1)")
    p.add_argument("--latency-ms", type=float, default=LATENCY_MS,
                   help=f"the emulator server's added latency per VOD and MNS answer (default {LATENCY_MS:g}; "
                        "0: loopback only)")
    p.add_argument("--out", type=Path, default=c.RESULTS, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    q = args.quick
    args.repeat = args.repeat or (1 if q else ROUNDS)
    args.warm_events = args.warm_events or (20 if q else 1500)
    args.warm_runs = args.warm_runs or (1 if q else 3)
    args.replay_events = args.replay_events or (16 if q else REPLAY_EVENTS)
    args.replay_segments = args.replay_segments or (1 if q else REPLAY_SEGMENTS)
    args.scale_events = args.scale_events or (20 if q else SCALE_EVENTS)
    args.scale_runs = args.scale_runs or (1 if q else SCALE_RUNS)
    args.selected = [b for b in args.benchmarks.split(",") if b]
    unknown = set(args.selected) - set(ALL)
    if unknown:
        p.error(f"unknown benchmarks: {', '.join(sorted(unknown))} (choose from {', '.join(ALL)})")
    return args


def cold_and_runtime(args, tmp: Path) -> dict:
    """Benchmarks 1 and 2 in one set of alternated rounds."""
    sel = set(args.selected)
    with c.emulator_server(latency_ms=args.latency_ms) as server, c.redis_server() as redis_url, \
            (c.emulator_server() if args.latency_ms else contextlib.nullcontext()) as loopback_server:
        variants = coldstart.handler_variants(redis_url=redis_url, loopback=loopback_server is not None)
        if "cold" not in sel:
            variants = [v for v in variants if v.name in ("sdk", "sdk-py312")]  # the custom runtime's baselines
            loopback_server = None
        for v in variants:
            v.extra["group"] = "cold"
        runtime = custom_runtime.bootstrap_variants(tmp) if "runtime" in sel else []
        for v in runtime:
            v.extra["group"] = "runtime"
        all_variants = variants + runtime
        c.log(f"cold start: {len(all_variants)} variants × {args.repeat} rounds: {', '.join(v.name for v in all_variants)}")
        coldstart.run_rounds(all_variants, args.repeat, server, tmp, warmup=not args.quick,
                             loopback_server=loopback_server)
        out = coldstart.results(all_variants)
        out["rounds"] = args.repeat
        out["latency_ms"] = args.latency_ms
        out["server"] = "vodai emulator (Flask + waitress), one process"
        if redis_url is None:
            out["note"] = "no redis-server on this machine: the Redis-store variant was left out"
        if not runtime:
            out["runtime_note"] = "build/package/python is missing (make package needs PyPI): no package variants"
        return out


def warm(args) -> dict:
    command = [str(c.bench_python()), "-m", "bench.warm", "--isolated", "--events", str(args.warm_events), "--runs",
               str(args.warm_runs), "--warmup", str(10 if args.quick else 200)]
    c.log("warm: " + " ".join(command[1:]))
    proc = subprocess.run(command, capture_output=True, text=True, cwd=c.ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"warm benchmark failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def replay(args) -> dict:
    from bench import replay_throughput

    return replay_throughput.run_all(args.replay_events, [int(x) for x in args.concurrency.split(",")],
                                     args.replay_segments, latency_ms=args.latency_ms,
                                     loopback=[int(x) for x in args.loopback_concurrency.split(",") if x],
                                     per_connection=True)


def scale(args) -> dict:
    from bench import scale as scale_bench

    return scale_bench.run_all(args.scale_events, args.scale_runs, args.latency_ms or LATENCY_MS)


def _shown(path: Path) -> str:
    """A path as the results record it: relative to the checkout when inside it (the results are
    committed, and an absolute path would name this machine)."""
    try:
        return str(path.resolve().relative_to(c.ROOT))
    except ValueError:
        return str(path)


def _row(cold: dict, name: str) -> Optional[dict]:
    return next((r for r in cold.get("rows", []) if r["name"] == name), None)


def _cold_row(cold: dict, name: str) -> Optional[dict]:
    """The row of ``name`` on FC's Python 3.12 when the run has it, else on 3.11."""
    for candidate in (f"{name}-py312", name):
        row = _row(cold, candidate)
        if row and "answer_ratio" in row:
            return row
    return None


def targets(b: dict) -> list:
    """The targets (issue 25): cold start and replay against the emulator with ``latency_ms``
    added to every answer, a cold start and a replay on loopback reported without a target."""
    out = []
    cold = b.get("cold_start") or {}
    ms = cold.get("latency_ms")
    rss = []
    for name, label, goal in (("vodai", "SQLite store", 0.5), ("vodai-redis", "Redis store", 0.6)):
        row = _cold_row(cold, name)
        if row is None:
            continue
        r = row["answer_ratio"]["ratio"]
        on = "" if row["name"].endswith("py312") else " (3.11)"
        out.append({"id": f"cold_{name}", "target": f"cold start to the answer, {label}{on}",
                    "goal": f"≤ {goal}× official SDK", "measured": f"{r:.2f}× ({row['answer_ms']['median']:.0f} ms)",
                    "value": r, "met": r <= goal})
        rss.append((label.split()[0], row["rss_ratio"]["ratio"], row["rss_mb"]["median"]))
    if rss:
        r = max(x[1] for x in rss)
        out.append({"id": "cold_rss", "target": "cold start peak RSS", "goal": "≤ 0.6× official SDK",
                    "measured": ", ".join(f"{store} {x:.2f}× ({mb:.1f} MB)" for store, x, mb in rss),
                    "value": r, "met": r <= 0.6})
    row = _row(cold, "vodai-loopback")
    if row and "answer_ratio" in row and ms:
        r = row["answer_ratio"]["ratio"]
        out.append({"id": "cold_loopback", "target": "cold start to the answer, loopback", "goal": "no target",
                    "measured": f"{r:.2f}× ({row['answer_ms']['median']:.0f} ms)", "value": r, "met": None})
    warm_b = b.get("warm")
    if warm_b and "canned" in warm_b["modes"]:
        p50 = warm_b["modes"]["canned"]["p50_us"]["median"]
        out.append({"id": "warm_p50", "target": "warm overhead per event, p50", "goal": "≤ 0.5 ms",
                    "measured": f"{p50 / 1000:.2f} ms", "value": p50, "met": p50 <= 500})
    rp = b.get("replay")
    if rp:
        for row in rp["rows"]:
            r = row["vodai_ratio"]["ratio"]
            if row.get("loopback"):
                out.append({"id": f"replay_loopback_c{row['concurrency']}",
                            "target": f"replay, concurrency {row['concurrency']}, loopback", "goal": "no target",
                            "measured": f"{r:.2f}×", "value": r, "met": None})
            else:
                out.append({"id": f"replay_c{row['concurrency']}", "target": f"replay, concurrency {row['concurrency']}",
                            "goal": "≥ 0.9× raw keep-alive", "measured": f"{r:.2f}×", "value": r, "met": r >= 0.9})
    sc = b.get("scale")
    if sc:
        for key, label, unit in (("replay_events_per_s", f"local replay, c={sc['replay_concurrency']}", "events/s"),
                                 ("fanout_events_per_s", f"queue fan-out, {sc.get('instances', 4)} instances", "events/s"),
                                 ("track_jobs_per_min", "track_jobs", "jobs/min")):
            if key in sc:
                v = sc[key]["median"]
                out.append({"id": f"scale_{key}", "target": label, "goal": "no target",
                            "measured": f"{v:,.0f} {unit}", "value": v, "met": None})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(argv)
    c.check_python([c.PY311])
    started = time.monotonic()
    sel = set(args.selected)
    benchmarks: dict = {}
    errors = {}
    steps = [("cold_start", bool(sel & {"cold", "runtime"}), cold_and_runtime),
             ("warm", "warm" in sel, lambda a, _t: warm(a)), ("replay", "replay" in sel, lambda a, _t: replay(a)),
             ("scale", "scale" in sel, lambda a, _t: scale(a))]
    with tempfile.TemporaryDirectory(prefix="vodai-bench-") as t:
        for name, wanted, step in steps:
            if not wanted:
                continue
            try:
                benchmarks[name] = step(args, Path(t))
            except Exception as exc:  # one failed benchmark never loses the others' figures
                c.log(f"{name} failed: {type(exc).__name__}: {exc}")
                errors[name] = f"{type(exc).__name__}: {exc}"[:4000]
    results = {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": "quick" if args.quick else "full",
        "args": {k: (_shown(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": c.machine(),
        "tree": c.tree_state(),
        "duration_s": round(time.monotonic() - started, 1),
        "benchmarks": benchmarks,
        "targets": targets(benchmarks),
    }
    if errors:
        results["errors"] = errors
    json_path, md_path = report.write(results, args.out)
    print(md_path.read_text(encoding="utf-8"))
    c.log(f"wrote {json_path} and {md_path} in {results['duration_s']:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
