"""The results as JSON (for tools) and as markdown tables (``bench/results/latest.{json,md}``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

from .common import fmt_ms, spread

SCHEMA = "vodai-bench/1"


def _x(r: Optional[dict]) -> str:
    """A ratio cell: ratio of medians, and the IQR of the paired per-round ratios."""
    if not r:
        return "–"
    if "paired_q1" in r and r.get("paired_q1") != r.get("paired_q3"):
        return f"{r['ratio']:.2f}× ({r['paired_q1']:.2f}–{r['paired_q3']:.2f})"
    return f"{r['ratio']:.2f}×"


def _mb(v: float) -> str:
    return f"{v:.1f}"


def _ms2(v: float) -> str:
    return f"{v:.2f}"


def _n(v: float) -> str:
    return f"{v:,.0f}"


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(results: dict) -> str:
    b = results["benchmarks"]
    m = results["machine"]
    lines = [
        f"Run {results['generated']} ({results['mode']}, {results['duration_s']:.0f} s) on {m['cpus']} CPUs "
        f"({m['cpu']}), Python {m['python311']} (dev venv) and {m['python312']} (FC's). Each figure: median "
        "(interquartile range); a ratio is the ratio of medians against its baseline, measured alternately in "
        "the same run (in brackets: the IQR of the paired per-round ratios).",
        "",
    ]
    tree = results.get("tree") or {}
    if tree.get("commit"):
        changed = tree.get("changed") or []
        lines += [f"Code measured: commit `{tree['commit']}`" + (f" plus {len(changed)} changed files in shared/, "
                  "functions/, bootstrap" if changed else "") + ".", ""]
    for name, error in (results.get("errors") or {}).items():
        lines += [f"**{name} failed**: `{error.splitlines()[0][:300]}`", ""]
    cold = b.get("cold_start")
    if cold:
        rows = [r for r in cold["rows"] if r["kind"] == "handler"]
        lines += [f"**Cold start**: a fresh process imports the handler and handles one event end to end (submit + "
                  f"publish over HTTP to `vodai emulator` as a server process{_latency(cold)}); {cold['rounds']} rounds. "
                  "Peak RSS: the "
                  "process's own high-water mark (VmHWM). Wall: from `Popen` to the process's exit; to the answer: "
                  "to the handler's return, what FC bills (an instance's exit is not billed)." + (
                      " Python 3.12 rows are compared with the official SDKs on Python 3.12 (as both would run on FC)."
                      if any(r.get("baseline") == "sdk-py312" for r in cold["rows"]) else "") + (
                      " The dependencies floor is the stdlib floor in a process that first imported requests and "
                      "pydantic as vodai does (the gap from it to vodai is vodai's own code)."
                      if any(r["name"].startswith("deps") for r in cold["rows"]) else ""), ""]
        lines += _table(
            ["variant", "wall ms", "× SDK", "to the answer ms", "× SDK", "peak RSS MB", "× SDK", "import ms", "handle ms"],
            [[r["label"], spread(r["wall_ms"]), _x(r.get("wall_ratio")),
              spread(r["answer_ms"]) if "answer_ms" in r else "–", _x(r.get("answer_ratio")),
              spread(r["rss_mb"], _mb), _x(r.get("rss_ratio")),
              fmt_ms(r["import_ms"]["median"]), fmt_ms(r["handle_ms"]["median"])] for r in rows])
        lines.append("")
        boot = [r for r in cold["rows"] if r["kind"] == "bootstrap"]
        if boot:
            lines += ["**Custom-runtime cold start**: from starting `bootstrap` to the first successful `POST /invoke` "
                      "answer, against the official-SDK handler's plain cold start (above).", ""]
            lines += _table(
                ["variant", "first /invoke ms", "× SDK cold start", "listening after ms", "peak RSS MB"],
                [[r["label"], spread(r["wall_ms"]), _x(r.get("wall_ratio")), fmt_ms(r["listen_ms"]["median"]),
                  spread(r["rss_mb"], _mb)] for r in boot])
            lines.append("")
    warm = b.get("warm")
    if warm:
        labels = {"canned": "vodai, canned responses (vodai's own cost)",
                  "emulator": "vodai, emulator in process (adds its verification)",
                  "decide": "vodai, parse + region + route only",
                  "floor": "stdlib floor, canned responses"}
        lines += [f"**Warm overhead per event** (network taken out, one CPU, {warm['events']} events × "
                  f"{warm['runs']} runs, Python {warm['python']}):", ""]
        lines += _table(["mode", "p50 µs", "p99 µs", "events/s on one core"],
                        [[labels.get(k, k), spread(v["p50_us"], _n), spread(v["p99_us"], _n), spread(v["events_per_s"], _n)]
                         for k, v in warm["modes"].items()])
        lines.append("")
    replay = b.get("replay")
    if replay:
        per_conn = " at concurrency 1 and concurrency times as many above" if replay.get("per_connection") else ""
        lines += [f"**Replay throughput**: {replay['events']:,} saved events{per_conn} against the emulator server over HTTP"
                  f"{_latency(replay)}, "
                  f"in {replay['segments']} alternated parts per implementation (job records: {replay['store']}); "
                  "raw = the same signed SubmitAIImageJob + PublishMessage pair per event over keep-alive "
                  "`http.client`, one connection per thread; vodai = `vodai replay --cloud`'s runner: at most `concurrency` "
                  "connections, twice as many workers.", ""]
        lines += _table(["concurrency", "vodai events/s", "raw events/s", "vodai ÷ raw"],
                        [[_conc(r), spread(r["vodai_events_per_s"], _n), spread(r["raw_events_per_s"], _n),
                          _x(r.get("vodai_ratio"))] for r in replay["rows"]])
        lines.append("")
        if "vodai_client_cpu_ms" in replay["rows"][0]:  # results from before 2026-11-22 have no CPU figures
            lines += ["CPU per event (ms; client: the replaying process, all threads, `getrusage`; server: the "
                      "emulator, `/proc`):", ""]
            lines += _table(["concurrency", "vodai client", "raw client", "server (vodai)", "server (raw)"],
                            [[_conc(r)] + [spread(r[k], _ms2) for k in
                              ("vodai_client_cpu_ms", "raw_client_cpu_ms", "vodai_server_cpu_ms", "raw_server_cpu_ms")]
                             for r in replay["rows"]])
            lines.append("")
    scale = b.get("scale")
    if scale:
        lines += [f"**Scale** (issue 28): {scale['events']:,} events per run, {scale['runs']} runs, against the emulator "
                  f"server{_latency(scale).split(', loopback')[0]}. Local replay: `vodai replay --cloud`'s runner at "
                  f"concurrency {scale['replay_concurrency']}, SQLite job records. Fan-out: `vodai replay --to-queue` "
                  "into the emulator's queue, its queue trigger invoking `vodai serve --function on_upload` instances "
                  "with batches, from the first send to the last job published. track_jobs: the jobs the replay left "
                  f"pending, polled run after run ({scale['tracking_concurrency']} lookups in flight) until none is left, "
                  "each job finished at its first lookup.", ""]
        rows = [["local replay", spread(scale["replay_events_per_s"], _n) + " events/s"]]
        if "fanout_events_per_s" in scale:
            rows.append([f"fan-out to {scale.get('instances', 4)} instances",
                         spread(scale["fanout_events_per_s"], _n) + " events/s"])
        rows.append(["track_jobs", spread(scale["track_jobs_per_min"], _n) + " jobs/min"])
        lines += _table(["what", "throughput"], rows)
        lines.append("")
    lines += _targets(results)
    return "\n".join(lines)


def _latency(b: dict) -> str:
    ms = b.get("latency_ms")
    return (f" answering every VOD and MNS request after {ms:g} ms (`--latency-ms`), loopback rows without "
            "that latency" if ms else "")


def _conc(row: dict) -> str:
    return f"{row['concurrency']}, loopback" if row.get("loopback") else str(row["concurrency"])


def _targets(results: dict) -> List[str]:
    targets = results.get("targets")
    if not targets:
        return []
    return ["**Targets**", ""] + _table(
        ["target", "goal", "measured", "met"],
        [[t["target"], t["goal"], t["measured"], "yes" if t["met"] else "**no**" if t["met"] is False else "–"]
         for t in targets]) + [""]


def readme_block(results: dict) -> str:
    """What README.md shows (``bench/update_readme.py``): the targets and one line naming the machine
    and the command; no run date, no commit (those are in latest.md, the method in bench/README.md)."""
    m = results.get("machine") or {}
    cpu = f" ({m['cpu']})" if m.get("cpu") else ""
    lines = _targets(results) or ["No targets in these results: run `make bench`.", ""]
    ms = ((results.get("benchmarks") or {}).get("cold_start") or {}).get("latency_ms")
    server = f", the emulator answering after {ms:g} ms" if ms else ""
    lines.append(f"`make bench` on {m.get('cpus', '?')} CPUs{cpu}, Python {m.get('python312') or m.get('python311')}"
                 f"{server}; all figures: `bench/results/latest.md`, method: `bench/README.md`.")
    return "\n".join(lines)


def write(results: dict, out_dir: Path, stem: str = "latest") -> tuple:
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {"schema": SCHEMA, **results}
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text("## Benchmarks: vodai against the official SDKs\n\n" + render(results) + "\n", encoding="utf-8")
    return json_path, md_path
