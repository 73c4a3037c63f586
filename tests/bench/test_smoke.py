"""The benchmark suite runs end to end in its tiny mode (``bench/run.py --quick``) and writes
results of the expected structure. No timing is asserted: figures on a shared machine are noise
at these counts; ``make bench`` is where they mean something."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv (make install)")
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VODAI_")}
    # Every benchmark, so that each of them is run here.
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out),
                           "--benchmarks", "cold,runtime,warm,replay,scale"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return out, proc


def _parsed(*argv: str) -> dict:
    """bench/run.py's options as its parser reads ``argv`` (in a child: tests/bench is a package
    named ``bench`` too)."""
    code = ("import json, sys; from bench import run; a = run.parse(sys.argv[1:]); "
            "print(json.dumps([a.selected, a.repeat, a.replay_segments, a.replay_events]))")
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_a_full_run_is_the_five_benchmarks_with_40_rounds_and_8_replay_parts():
    assert _parsed() == [["cold", "runtime", "warm", "replay", "scale"], 40, 8, 800]
    assert _parsed("--quick")[1:] == [1, 1, 16]
    assert _parsed("--benchmarks", "cold,warm")[0] == ["cold", "warm"]
    code = "from bench import run; run.parse(['--benchmarks', 'cold,nonsense'])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown benchmarks: nonsense" in proc.stderr


def _summary(s: dict) -> None:
    assert {"median", "q1", "q3", "min", "max", "n"} <= set(s)
    assert s["n"] >= 1 and s["min"] <= s["median"] <= s["max"]


def test_writes_json_and_markdown(quick_run):
    out, proc = quick_run
    doc = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    md = (out / "latest.md").read_text(encoding="utf-8")
    assert doc["schema"] == "vodai-bench/1" and doc["mode"] == "quick"
    assert {"cpus", "python311"} <= set(doc["machine"])
    assert set(doc["benchmarks"]) == {"cold_start", "warm", "replay", "scale"}
    for heading in ("**Cold start**", "**Warm overhead per event**", "**Replay throughput**", "**Scale**", "**Targets**"):
        assert heading in md
    assert md.strip().splitlines()[-1] in proc.stdout  # the tables are printed too


def test_cold_start_rows_have_medians_spreads_and_ratios(quick_run):
    out, _ = quick_run
    rows = {r["name"]: r for r in json.loads((out / "latest.json").read_text())["benchmarks"]["cold_start"]["rows"]}
    assert {"sdk", "vodai", "stdlib", "noop"} <= set(rows)
    for name in ("sdk", "vodai", "stdlib"):
        for key in ("wall_ms", "answer_ms", "rss_mb", "import_ms", "handle_ms"):
            _summary(rows[name][key])
        # The answer comes before the exit, and after the import and the handling (one clock,
        # CLOCK_MONOTONIC, in the driver and the child: a wrong clock would fail these).
        assert rows[name]["import_ms"]["median"] < rows[name]["answer_ms"]["median"] < rows[name]["wall_ms"]["median"]
    assert rows["vodai"]["answer_ratio"]["ratio"] > 0
    for name in ("vodai", "stdlib", "deps"):
        assert rows[name]["baseline"] == "sdk"
        assert rows[name]["wall_ratio"]["ratio"] > 0 and rows[name]["rss_ratio"]["ratio"] > 0
    # FC's Python 3.12: compared with the SDKs on 3.12 when their venv is there (make bench builds
    # it), and then with the SDKs on 3.11 as well.
    if "vodai-py312" in rows:
        on312 = (ROOT / ".venv312-sdk" / ".installed").exists()  # make bench's marker: the SDKs installed
        assert ("sdk-py312" in rows) == on312
        for name in ("vodai-py312", "deps-py312", "stdlib-py312"):
            assert rows[name]["baseline"] == ("sdk-py312" if on312 else "sdk")
            assert ("wall_ratio_sdk311" in rows[name]) == on312
        if on312:
            _summary(rows["sdk-py312"]["wall_ms"])
            assert rows["sdk-py312"]["baseline"] == "sdk"
            for row in rows.values():
                if row["kind"] == "bootstrap" and row.get("group") == "runtime":
                    assert row["baseline"] == "sdk-py312"  # the custom runtime runs on 3.12 too
    # The production setting (the Redis store), on 3.11 and on FC's 3.12, when redis-server is here.
    if shutil.which("redis-server"):
        redis_rows = ["vodai-redis"] + (["vodai-redis-py312"] if "vodai-py312" in rows else [])
        for name in redis_rows:
            _summary(rows[name]["wall_ms"])
            assert rows[name]["wall_ratio"]["ratio"] > 0 and rows[name]["rss_ratio"]["ratio"] > 0
        if "vodai-redis-py312" in rows:
            assert rows["vodai-redis-py312"]["baseline"] == rows["vodai-py312"]["baseline"]
    # Against the server with its added latency; the loopback pair (no latency) only compared with itself.
    assert json.loads((out / "latest.json").read_text())["benchmarks"]["cold_start"]["latency_ms"] == 20
    assert rows["vodai-loopback"]["baseline"] == "sdk-loopback" and "baseline" not in rows["sdk-loopback"]
    assert rows["vodai-loopback"]["answer_ratio"]["ratio"] > 0
    for row in rows.values():
        if row["kind"] == "bootstrap":
            _summary(row["wall_ms"])
            _summary(row["listen_ms"])
            assert row["wall_ratio"]["ratio"] > 0


def test_warm_replay_and_targets(quick_run):
    out, _ = quick_run
    doc = json.loads((out / "latest.json").read_text())
    warm = doc["benchmarks"]["warm"]["modes"]
    assert set(warm) == {"canned", "emulator", "decide", "floor"}
    for mode in warm.values():
        for key in ("p50_us", "p99_us", "events_per_s"):
            _summary(mode[key])
    replay = doc["benchmarks"]["replay"]
    assert replay["latency_ms"] == 20
    assert [(r["concurrency"], r["loopback"]) for r in replay["rows"]] == [(1, False), (4, False), (8, False), (4, True)]
    for row in replay["rows"]:
        _summary(row["vodai_events_per_s"])
        _summary(row["raw_events_per_s"])
        assert row["vodai_ratio"]["ratio"] > 0
    ids = {t["id"] for t in doc["targets"]}
    assert {"cold_vodai", "cold_rss", "cold_loopback", "warm_p50", "replay_c1", "replay_c4", "replay_c8",
            "replay_loopback_c4"} <= ids
    if shutil.which("redis-server"):
        assert "cold_vodai-redis" in ids
    if (ROOT / ".venv312-sdk" / ".installed").exists() and (ROOT / ".venv312" / "bin" / "python").exists():
        assert not any("3.11" in t["target"] for t in doc["targets"])  # FC's Python: 3.12 against 3.12
    for t in doc["targets"]:
        assert t["goal"] and t["measured"]
        assert t["met"] is None if t["goal"] == "no target" else isinstance(t["met"], bool)


def test_update_readme_replaces_only_the_marked_block(tmp_path, quick_run):
    out, _ = quick_run
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import update_readme
    finally:
        sys.path.pop(0)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nbefore\n<!-- bench:start -->\nold figures\n<!-- bench:end -->\nafter\n", encoding="utf-8")
    assert update_readme.update(readme, out / "latest.md")
    text = readme.read_text(encoding="utf-8")
    assert "old figures" not in text and "**Targets**" in text and "`make bench`" in text
    block = text[text.index("<!-- bench:start -->"):text.index("<!-- bench:end -->")]
    assert "**Cold start**" not in block and "Run " not in block and "commit" not in block  # those stay in latest.md
    assert "**Cold start**" in (out / "latest.md").read_text(encoding="utf-8")
    assert text.startswith("# x\n\nbefore\n<!-- bench:start -->\n") and text.endswith("<!-- bench:end -->\nafter\n")
    unmarked = tmp_path / "PLAIN.md"
    unmarked.write_text("no markers\n", encoding="utf-8")
    assert not update_readme.update(unmarked, out / "latest.md")
    assert unmarked.read_text(encoding="utf-8") == "no markers\n"


def test_the_scale_figures_are_throughputs_of_every_event(quick_run):
    out, _ = quick_run
    scale = json.loads((out / "latest.json").read_text())["benchmarks"]["scale"]
    for key in ("replay_events_per_s", "track_jobs_per_min", "fanout_events_per_s"):
        _summary(scale[key])
        assert scale[key]["min"] > 0
    targets = {t["id"]: t for t in json.loads((out / "latest.json").read_text())["targets"]}
    assert targets["scale_track_jobs_per_min"]["met"] is None and "jobs/min" in targets["scale_track_jobs_per_min"]["measured"]
