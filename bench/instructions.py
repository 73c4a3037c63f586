"""CPU instructions per event, counted by valgrind (callgrind): a measure the machine's noise does
not move, for deciding whether a change helps when wall times on a shared machine vary by 1.5x
from one minute to the next. Not a replacement for the timed benchmarks (it ignores the kernel,
caches and the waits), and not part of ``make bench``.

    .venv/bin/python -m bench.instructions warm            # the warm path (canned responses)
    .venv/bin/python -m bench.instructions warm --mode floor
    .venv/bin/python -m bench.instructions replay          # the replay client, per event (SQLite store)
    .venv/bin/python -m bench.instructions replay --impl raw
    .venv/bin/python -m bench.instructions warm --tree /tmp/other-checkout   # another version, to compare
    .venv/bin/python -m bench.instructions cold --python 3.12   # importing on_upload's index.py, as FC does
    .venv/bin/python -m bench.instructions cold --python 3.12 --handler deps   # the dependencies floor
    .venv/bin/python -m bench.instructions steps --python 3.12  # vodai's packages, one after another, on top of the dependencies

Each figure is (count at N2 events - count at N1 events) / (N2 - N1): start-up, imports and the
event generation cancel out. ``cold`` counts one whole process that imports a handler file (the
interpreter's start and exit included), after an unmeasured run that wrote its bytecode. Needs ``valgrind`` (apt); it runs the interpreter about 50x slower.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Tuple

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c  # noqa: E402

_COLLECTED = re.compile(r"Collected : (\d+)")

# One warm loop in a child process: ``mode`` events of the warm benchmark, the outcome lines to /dev/null.
_WARM_LOOP = """
import os, sys
from bench import common as c, warm
mode, n = sys.argv[1], int(sys.argv[2])
runner = warm.make_runner(mode, 0) if mode != "none" else (lambda raw: None)
events = [c.video_event(i, tag="instr") for i in range(n)]
sys.stderr = open(os.devnull, "w")
for raw in events:
    runner(raw)
"""


def _callgrind(command, *, cwd: Path, env: dict) -> int:
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
                          capture_output=True, text=True, cwd=cwd, env=env)
    found = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"valgrind {' '.join(command)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def _env(tree: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VODAI_")}
    env["PYTHONPATH"] = f"{tree / 'shared'}{os.pathsep}{tree}"
    return env


# Import a handler file as FC's Python runtime (and bench/child.py) does.
_IMPORT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
"""


def cold(tree: Path, handler: str, python: str) -> int:
    """Instructions of a process that imports ``handler`` (a key of bench.coldstart.HANDLERS)."""
    from bench.coldstart import HANDLERS

    path = tree / HANDLERS[handler].relative_to(c.ROOT)
    py = {"3.11": c.PY311, "3.12": c.PY312_SDK if handler == "sdk" else c.PY312}[python]
    if python == "3.12" and handler == "sdk" and not c.sdk312_ready():
        raise SystemExit("the official SDKs on Python 3.12 are not installed: make .venv312-sdk/.installed")
    env = _env(tree)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a tree without bytecode would be measured compiling
    command = [str(py), "-c", _IMPORT, str(path)]
    subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True)
    return _callgrind(command, cwd=tree, env=env)


# What every vodai package stands on: the dependencies as vodai's handler imports them.
_STEPS_BASE = ("import vodai; import requests, pydantic; "
               "from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator")
# The order a handler's import reaches them, each step importing what the ones before left out.
STEPS = ("vodai.exceptions", "vodai.config", "vodai.events.models", "vodai.events.envelopes", "vodai.routing",
         "vodai.signing", "vodai.clients", "vodai.idempotency", "vodai.tracking", "vodai.deadletter", "vodai.pipeline",
         "vodai.handler")


def steps(tree: Path, python: str, packages: Tuple[str, ...] = STEPS) -> List[Tuple[str, int]]:
    """Instructions of processes importing the dependencies, then ``packages`` one more at a
    time: [(name, count)], the first ("dependencies") the base alone."""
    py = {"3.11": c.PY311, "3.12": c.PY312}[python]
    env = _env(tree)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONHASHSEED"] = "0"  # the same sets and dicts in every process, so the steps' differences hold
    names = ["dependencies", *packages]
    codes = [_STEPS_BASE + "".join(f"; import {m}" for m in packages[:i]) for i in range(len(names))]
    subprocess.run([str(py), "-c", codes[-1]], cwd=tree, env=env, check=True, capture_output=True)  # bytecode
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        counts = list(pool.map(lambda code: _callgrind([str(py), "-c", code], cwd=tree, env=env), codes))
    return list(zip(names, counts))


def warm(tree: Path, mode: str, n1: int, n2: int) -> float:
    counts = [_callgrind([str(c.PY311), "-c", _WARM_LOOP, mode, str(n)], cwd=tree, env=_env(tree)) for n in (n1, n2)]
    return (counts[1] - counts[0]) / (n2 - n1)


def replay(tree: Path, impl: str, n1: int, n2: int, store: str = "") -> float:
    """The replay worker (client side only, concurrency 1) against a normal emulator server."""
    counts = []
    with tempfile.TemporaryDirectory(prefix="vodai-instr-") as t, c.emulator_server() as server:
        for n in (n1, n2):
            events = c.write_jsonl(Path(t) / f"events-{n}.jsonl", n, tag=f"instr{n}")
            command = [str(c.PY311), "-m", "bench.replay_throughput", "worker", impl, "--events", str(events),
                       "--url", server.url, "--concurrency", "1",
                       "--store", store or f"sqlite:///{Path(t) / f'store-{n}.sqlite3'}"]
            counts.append(_callgrind(command, cwd=tree, env=_env(tree)))
    return (counts[1] - counts[0]) / (n2 - n1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("warm", "replay", "cold", "steps"))
    parser.add_argument("--handler", default="vodai", help="cold: vodai, deps, stdlib, sdk, noop")
    parser.add_argument("--python", default="3.11", choices=("3.11", "3.12"), help="cold, steps: which interpreter")
    parser.add_argument("--mode", default="canned", help="warm: canned, emulator, decide, floor, none")
    parser.add_argument("--impl", default="vodai", help="replay: vodai or raw")
    parser.add_argument("--store", default="", help="replay: the job store URL (default: a fresh SQLite file)")
    parser.add_argument("--packages", default=",".join(STEPS), help="steps: the packages, in order (comma-separated)")
    parser.add_argument("--tree", type=Path, default=c.ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--events", default="200,700", help="N1,N2 (default 200,700; replay 100,400)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    n1, n2 = (int(x) for x in args.events.split(","))
    if args.what == "steps":
        previous = None
        for name, count in steps(args.tree.resolve(), args.python, tuple(args.packages.split(","))):
            added = "" if previous is None else f"+{(count - previous) / 1e6:.1f} M"
            print(f"{name:24} {added:>10}  ({count / 1e6:.1f} M in all, Python {args.python})")
            previous = count
        return 0
    if args.what == "cold":
        count = cold(args.tree.resolve(), args.handler, args.python)
        print(f"cold import of {args.handler} on Python {args.python}: {count / 1e6:.1f} M instructions ({args.tree})")
        return 0
    if args.what == "warm":
        per = warm(args.tree.resolve(), args.mode, n1, n2)
        label = f"warm {args.mode}"
    else:
        if args.events == "200,700":
            n1, n2 = 100, 400
        per = replay(args.tree.resolve(), args.impl, n1, n2, args.store)
        label = f"replay client {args.impl}"
    print(f"{label}: {per / 1e6:.3f} M instructions per event ({args.tree})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
