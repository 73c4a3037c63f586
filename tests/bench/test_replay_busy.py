"""``python -m bench.replay_throughput --busy N``: the replay on a loaded machine, reproducibly.
No timing is asserted; what is checked is that the load is there while the parts run, that every
event is still submitted and published, and that no spinning process outlives the run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture(autouse=True)
def _linux():
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux's /proc")


_BLOCKS = """
import json
from bench.replay_throughput import busy_processes
with busy_processes(2) as spinning:
    print(json.dumps([p.pid for p in spinning]), flush=True)
    input()  # the test looks at them now
try:
    with busy_processes(1) as spinning:
        failed = [p.pid for p in spinning]
        raise RuntimeError("a part failed")
except RuntimeError:
    print(json.dumps(failed), flush=True)
with busy_processes(1) as spinning:
    print(json.dumps([p.pid for p in spinning]), flush=True)
    input()  # the test kills this process now (SIGKILL: no finally runs)
"""


def test_busy_processes_spin_for_the_block_and_are_gone_after():
    # bench/ is run from the checkout's root (tests/bench shadows the name here), as make bench runs it.
    child = subprocess.Popen([sys.executable, "-c", _BLOCKS], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        pids = json.loads(child.stdout.readline())
        assert len(pids) == 2 and all(_running(pid) for pid in pids)
        child.stdin.write("\n")
        child.stdin.flush()
        failed = json.loads(child.stdout.readline())
        orphaned = json.loads(child.stdout.readline())
        assert _running(orphaned[0])  # and spinning: busy_processes yields once each one said so
        assert not any(_running(pid) for pid in pids + failed)  # killed on the way out, of a failed run too
        child.kill()  # as a bench killed with SIGKILL: the spinning process goes with it
        child.wait(30)
        assert _gone_within(orphaned[0], 10)
    finally:
        # Whatever a failed assertion left in the child's session; after a pass there may be none
        # left (a quick reaper has collected them), and that is no error.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds  # a bound for the kernel to deliver the signal, not a timing assertion
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)


def test_a_loaded_replay_still_submits_and_publishes_every_event():
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv (make install)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VODAI_")}
    proc = subprocess.run([sys.executable, "-m", "bench.replay_throughput", "--events", "12", "--concurrency", "1,2",
                           "--segments", "2", "--busy", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    # (on a timeout the run is killed, and its spinning process with it: the parent's death signal)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    # "busy": the spinning processes still running when the last part ended; one_run raises unless
    # every event was submitted and published.
    assert doc["busy"] == 1 and doc["events"] == 12
    assert [r["concurrency"] for r in doc["rows"]] == [1, 2]
    assert all(r["vodai_events_per_s"]["n"] == 2 and r["raw_events_per_s"]["n"] == 2 for r in doc["rows"])
