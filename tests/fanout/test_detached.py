"""A fan-out killed with SIGKILL while MNS has a batch but the answer is not back yet: with a
detached sender the batch is still recorded, and the resumed run sends nothing twice; without
one (the in-process outbox) that batch is the one sent again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from vodai.fanout.detached import can_detach

pytestmark = pytest.mark.skipif(not can_detach(), reason="no os.fork")

TOTAL = 160
# A fan-out to a queue that is a file: each batch is stored (one line per body, fsync'd), then the
# answer takes PAUSE seconds: the window in which a kill leaves a batch stored but unrecorded.
SCRIPT = r"""
import json, os, sys, time
from pathlib import Path
from vodai.fanout import fan_out, open_outbox

queue_file, checkpoint, detach, pause = sys.argv[1], sys.argv[2], sys.argv[3] == "1", float(sys.argv[4])

class FileQueue:
    def batch_send(self, queue, bodies):
        with open(queue_file, "a", encoding="utf-8") as handle:
            handle.write("".join(body + "\n" for body in bodies))
            handle.flush()
            os.fsync(handle.fileno())
        time.sleep(pause)
        return [{"MessageId": body} for body in bodies]

outbox = open_outbox(FileQueue(), "q", checkpoint=Path(checkpoint), params={"queue": "q"}, detach=detach)
report = fan_out(((f"e{i}", f"e{i}") for i in range(int(sys.argv[5]))), outbox=outbox)
print(json.dumps(report.to_dict()))
"""
PAUSE = 0.5


def _run(queue_file, checkpoint, *, detach, pause, **kw):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(queue_file), str(checkpoint), "1" if detach else "0",
                             str(pause), str(TOTAL)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.mark.parametrize("detach", [True, False], ids=["detached", "in-process"])
def test_a_kill_while_mns_holds_an_unanswered_batch(tmp_path, detach):
    queue_file, checkpoint = tmp_path / "queue.txt", tmp_path / "run.checkpoint"
    first = _run(queue_file, checkpoint, detach=detach, pause=PAUSE)
    deadline = time.monotonic() + 30
    while len(_lines(queue_file)) < 32:  # the second batch is stored; its answer is PAUSE seconds away
        assert time.monotonic() < deadline and first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    resumed = _run(queue_file, checkpoint, detach=detach, pause=0)
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err.decode()
    report = json.loads(out)

    copies = Counter(_lines(queue_file))
    assert set(copies) == {f"e{i}" for i in range(TOTAL)}  # everything is in the queue
    if detach:
        assert max(copies.values()) == 1  # nothing twice: the killed run's last batch was still recorded
        assert (report["skipped"], report["sent"], report["resent"]) == (32, TOTAL - 32, 0)
    else:
        assert sorted(e for e, n in copies.items() if n > 1) == sorted(f"e{i}" for i in range(16, 32))
        assert (report["skipped"], report["sent"], report["resent"]) == (16, TOTAL - 16, 16)


def test_ctrl_c_stops_after_the_batch_in_flight_without_sending_it_twice(tmp_path):
    queue_file, checkpoint = tmp_path / "queue.txt", tmp_path / "run.checkpoint"
    first = _run(queue_file, checkpoint, detach=False, pause=PAUSE)
    deadline = time.monotonic() + 30
    while len(_lines(queue_file)) < 16:
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.005)
    first.send_signal(signal.SIGINT)  # during the send: it ends, is recorded, and the run stops
    out, _err = first.communicate(timeout=30)
    report = json.loads(out)
    assert report["interrupted"] is True and report["sent"] == 16

    resumed = _run(queue_file, checkpoint, detach=False, pause=0)
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err.decode()
    assert json.loads(out)["skipped"] == 16
    assert Counter(_lines(queue_file)) == Counter(f"e{i}" for i in range(TOTAL))
