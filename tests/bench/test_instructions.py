"""bench/instructions.py counts CPU instructions per event under valgrind (the noise-free measure
used to decide whether a change helps). Structure only: the count must be a positive per-event
figure that grows with the work per event."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, require_binary

pytestmark = [pytest.mark.slow]


def _millions(args: list, pattern: str) -> float:
    """Run ``python -m bench.instructions ARGS`` and read the figure ``pattern`` captures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VODAI_")}
    proc = subprocess.run([sys.executable, "-m", "bench.instructions", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.search(pattern, proc.stdout)
    assert found, proc.stdout
    return float(found.group(1))


def _per_event(mode: str) -> float:
    return _millions(["warm", "--mode", mode, "--events", "2,6"], r"warm \w+: ([0-9.]+) M instructions per event")


def test_counts_more_instructions_for_more_work():
    require_binary("valgrind")
    decide = _per_event("decide")  # parse, region, route
    canned = _per_event("canned")  # the whole event: that, plus claim, sign, send, publish, track, log
    assert 0.01 < decide < canned


def _cold(handler: str) -> float:
    return _millions(["cold", "--handler", handler], rf"cold import of {handler} on Python 3.11: ([0-9.]+) M instructions")


def test_counts_a_cold_import_by_what_it_loads():
    require_binary("valgrind")
    # The bare interpreter, then the standard library's http.client + hmac, then vodai's handler
    # (requests, pydantic and vodai): each imports strictly more than the one before.
    assert 1 < _cold("noop") < _cold("stdlib") < _cold("vodai")


def test_steps_count_each_package_on_top_of_the_ones_before():
    require_binary("valgrind")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VODAI_")}
    proc = subprocess.run([sys.executable, "-m", "bench.instructions", "steps", "--packages", "vodai.config,vodai.handler"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^(\S+) +(?:\+(-?[0-9.]+) M)? +\(([0-9.]+) M in all", proc.stdout, re.M)
    names = [r[0] for r in rows]
    assert names == ["dependencies", "vodai.config", "vodai.handler"], proc.stdout
    totals = [float(r[2]) for r in rows]
    # Each step imports more than the one before it (every package adds modules of its own).
    assert all(later > earlier for earlier, later in zip(totals, totals[1:])), proc.stdout
