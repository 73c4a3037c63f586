"""vodai's benchmark suite: vodai against a handler written with the official SDKs (and against
the standard-library floor), measured alternately in the same run on this machine.

    .venv/bin/python bench/run.py                      # the four benchmarks (make bench), about 6 min
    .venv/bin/python bench/run.py --quick --out /tmp/b # tiny counts: checks that it all runs
    .venv/bin/python bench/run.py --benchmarks cold,runtime --repeat 20

Benchmarks (``--benchmarks``, comma-separated):
  cold         cold start: fresh process, import, one event end to end over HTTP (bench/coldstart.py)
  runtime      custom runtime: bootstrap to the first /invoke answer (bench/custom_runtime.py)
  warm         warm overhead per event, network taken out (bench/warm.py)
  replay       replay throughput against the emulator server (bench/replay_throughput.py)

Writes ``<out>/latest.json`` and ``<out>/latest.md`` (default ``bench/results/``).
"""

from __future__ import annotations

import argparse
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

ALL = DEFAULT = ("cold", "runtime", "warm", "replay")
# Cold-start rounds and replay parts of a full run: with 24 rounds a noisy run moved one row's
# ratio of medians by up to 0.04, with 4 parts a replay ratio by up to 0.1.
ROUNDS = 40
REPLAY_SEGMENTS = 8


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--quick", action="store_true", help="tiny counts, to check that the suite runs (the smoke test)")
    p.add_argument("--repeat", type=int, default=None, help=f"cold-start rounds (default {ROUNDS}; quick 1)")
    p.add_argument("--benchmarks", default=",".join(DEFAULT),
                   help=f"which to run, of {','.join(ALL)} (default: {','.join(DEFAULT)})")
    p.add_argument("--warm-events", type=int, default=None, help="events per warm run (default 1500; quick 20)")
    p.add_argument("--warm-runs", type=int, default=None, help="warm runs per mode (default 3; quick 1)")
    p.add_argument("--replay-events", type=int, default=None, help="events replayed per implementation and "
                   "concurrency (default 10000; quick 16)")
    p.add_argument("--replay-segments", type=int, default=None,
                   help=f"alternated parts those events are replayed in (default {REPLAY_SEGMENTS}; quick 1)")
    p.add_argument("--concurrency", default="1,4,8", help="replay concurrencies (default 1,4,8)")
    p.add_argument("--out", type=Path, default=c.RESULTS, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    q = args.quick
    args.repeat = args.repeat or (1 if q else ROUNDS)
    args.warm_events = args.warm_events or (20 if q else 1500)
    args.warm_runs = args.warm_runs or (1 if q else 3)
    args.replay_events = args.replay_events or (16 if q else 10_000)
    args.replay_segments = args.replay_segments or (1 if q else REPLAY_SEGMENTS)
    args.selected = [b for b in args.benchmarks.split(",") if b]
    unknown = set(args.selected) - set(ALL)
    if unknown:
        p.error(f"unknown benchmarks: {', '.join(sorted(unknown))} (choose from {', '.join(ALL)})")
    return args


def cold_and_runtime(args, tmp: Path) -> dict:
    """Benchmarks 1 and 2 in one set of alternated rounds."""
    sel = set(args.selected)
    with c.emulator_server() as server, c.redis_server() as redis_url:
        variants = coldstart.handler_variants(redis_url=redis_url)
        if "cold" not in sel:
            variants = [v for v in variants if v.name in ("sdk", "sdk-py312")]  # the custom runtime's baselines
        for v in variants:
            v.extra["group"] = "cold"
        runtime = custom_runtime.bootstrap_variants(tmp) if "runtime" in sel else []
        for v in runtime:
            v.extra["group"] = "runtime"
        all_variants = variants + runtime
        c.log(f"cold start: {len(all_variants)} variants × {args.repeat} rounds: {', '.join(v.name for v in all_variants)}")
        coldstart.run_rounds(all_variants, args.repeat, server, tmp, warmup=not args.quick)
        out = coldstart.results(all_variants)
        out["rounds"] = args.repeat
        out["server"] = "vodai emulator (Flask + waitress), one process"
        if redis_url is None:
            out["note"] = "no redis-server on this machine: the Redis-store variant was left out"
        if not runtime:
            out["runtime_note"] = "build/package/python is missing (make package needs PyPI): no package variants"
        return out


def warm(args) -> dict:
    command = [str(c.PY311), "-m", "bench.warm", "--isolated", "--events", str(args.warm_events), "--runs",
               str(args.warm_runs), "--warmup", str(10 if args.quick else 200)]
    c.log("warm: " + " ".join(command[1:]))
    proc = subprocess.run(command, capture_output=True, text=True, cwd=c.ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"warm benchmark failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def replay(args) -> dict:
    from bench import replay_throughput

    return replay_throughput.run_all(args.replay_events, [int(x) for x in args.concurrency.split(",")],
                                     args.replay_segments)


def _shown(path: Path) -> str:
    """A path as the results record it: relative to the checkout when inside it (the results are
    committed, and an absolute path would name this machine)."""
    try:
        return str(path.resolve().relative_to(c.ROOT))
    except ValueError:
        return str(path)


def _row(cold: dict, name: str) -> Optional[dict]:
    return next((r for r in cold.get("rows", []) if r["name"] == name), None)


def targets(b: dict) -> list:
    out = []
    cold = b.get("cold_start") or {}
    vodai, stdlib = _row(cold, "vodai"), _row(cold, "stdlib")
    if vodai and "wall_ratio" in vodai:
        r = vodai["wall_ratio"]["ratio"]
        floor = f"; {vodai['wall_ms']['median'] / stdlib['wall_ms']['median']:.1f}× the stdlib floor" if stdlib else ""
        deps = _row(cold, "deps")
        if deps:
            floor += f", {vodai['wall_ms']['median'] / deps['wall_ms']['median']:.2f}× the dependencies floor"
        answer = f"; to the answer {vodai['answer_ratio']['ratio']:.2f}×" if "answer_ratio" in vodai else ""
        out.append({"id": "cold_wall", "target": "cold start wall (Python 3.11)", "goal": "≤ 0.5× official SDK",
                    "measured": f"{r:.2f}×{answer}{floor}", "value": r, "met": r <= 0.5})
        r = vodai["rss_ratio"]["ratio"]
        out.append({"id": "cold_rss", "target": "cold start peak memory", "goal": "≤ 0.6× official SDK",
                    "measured": f"{r:.2f}× ({vodai['rss_mb']['median']:.1f} MB)", "value": r, "met": r <= 0.6})
    for name, label in (("vodai-py312", "cold start wall (Python 3.12)"), ("vodai-redis", "cold start wall, Redis store"),
                        ("vodai-redis-py312", "cold start wall, Redis store (Python 3.12)")):
        row = _row(cold, name)
        if row and "wall_ratio" in row:
            r = row["wall_ratio"]["ratio"]
            goal, measured = "≤ 0.5× official SDK", f"{r:.2f}×"
            if "answer_ratio" in row:
                measured += f"; to the answer {row['answer_ratio']['ratio']:.2f}×"
            if row.get("baseline") == "sdk-py312":
                goal += " on 3.12"
                measured += f" (against the SDK on 3.11: {row['wall_ratio_sdk311']['ratio']:.2f}×)"
            deps = _row(cold, "deps-py312") if name == "vodai-py312" else None  # the floor imports no redis
            if deps:
                measured += f"; {row['wall_ms']['median'] / deps['wall_ms']['median']:.2f}× the dependencies floor"
            out.append({"id": f"cold_wall_{name}", "target": label, "goal": goal, "measured": measured, "value": r,
                        "met": r <= 0.5})
    row = _row(cold, "vodai-py312")
    if row and row.get("baseline") == "sdk-py312":
        r = row["rss_ratio"]["ratio"]
        out.append({"id": "cold_rss_py312", "target": "cold start peak memory (Python 3.12)", "goal": "≤ 0.6× official SDK on 3.12",
                    "measured": f"{r:.2f}× ({row['rss_mb']['median']:.1f} MB)", "value": r, "met": r <= 0.6})
    for name, label in (("vodai-redis", "cold start peak memory, Redis store"),
                        ("vodai-redis-py312", "cold start peak memory, Redis store (Python 3.12)")):
        row = _row(cold, name)
        if row and "rss_ratio" in row:
            r = row["rss_ratio"]["ratio"]
            on312 = " on 3.12" if row.get("baseline") == "sdk-py312" else ""
            out.append({"id": f"cold_rss_{name}", "target": label, "goal": f"≤ 0.6× official SDK{on312}",
                        "measured": f"{r:.2f}× ({row['rss_mb']['median']:.1f} MB)", "value": r, "met": r <= 0.6})
    for name, label in (("bootstrap-package-pyc", "custom runtime, package as built"),):
        row = _row(cold, name)
        if row and "wall_ratio" in row and row.get("group") == "runtime":
            r = row["wall_ratio"]["ratio"]
            on312 = " on 3.12" if row.get("baseline") == "sdk-py312" else ""
            out.append({"id": f"runtime_{name}", "target": label + " (bootstrap → first /invoke)",
                        "goal": f"≤ 1× official-SDK cold start{on312}", "measured": f"{r:.2f}× ({row['wall_ms']['median']:.0f} ms)",
                        "value": r, "met": r <= 1.0})
    warm_b = b.get("warm")
    if warm_b and "canned" in warm_b["modes"]:
        p50 = warm_b["modes"]["canned"]["p50_us"]["median"]
        out.append({"id": "warm_p50", "target": "warm overhead per event, p50", "goal": "≤ 500 µs",
                    "measured": f"{p50:,.0f} µs", "value": p50, "met": p50 <= 500})
    rp = b.get("replay")
    if rp:
        for row in rp["rows"]:
            r = row["vodai_ratio"]["ratio"]
            out.append({"id": f"replay_c{row['concurrency']}", "target": f"replay throughput, concurrency {row['concurrency']}",
                        "goal": "≥ 0.8× raw requests", "measured": f"{r:.2f}×", "value": r, "met": r >= 0.8})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(argv)
    c.check_python([c.PY311])
    started = time.monotonic()
    sel = set(args.selected)
    benchmarks: dict = {}
    errors = {}
    steps = [("cold_start", bool(sel & {"cold", "runtime"}), cold_and_runtime),
             ("warm", "warm" in sel, lambda a, _t: warm(a)), ("replay", "replay" in sel, lambda a, _t: replay(a))]
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
