"""The regular expressions a handler's import compiles, by the module that asks, and their time: how
the cost :mod:`vodai.regexcache` removes was found (112 patterns, about 21 ms of on_upload's import on
Python 3.10), and a check that a warm cache leaves none.

    .venv/bin/python -m bench.regexes                    # on_upload on Python 3.10, with its cache as it is
    .venv/bin/python -m bench.regexes --no-cache         # as if there were none (nothing written)
    .venv/bin/python -m bench.regexes --python 3.11 functions/track_jobs/index.py

Runs in a fresh interpreter that wraps the regex compiler (``sre_compile.compile`` on 3.10,
``re._compiler.compile`` on 3.11) while it imports the handler file as FC does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c  # noqa: E402

_PROBE = r"""
import collections, json, sys, time
try:
    from re import _compiler as comp
except ImportError:
    import sre_compile as comp
count, spent = collections.Counter(), collections.Counter()
original = comp.compile
def compile(p, flags=0):
    t = time.perf_counter()
    try:
        return original(p, flags)
    finally:
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename.endswith(("/re.py", "/re/__init__.py")):
            f = f.f_back  # re.compile, re.match...: the module that called them
        where = f.f_code.co_filename.split("site-packages/")[-1] if f else "?"
        where = where.split("/lib/", 1)[-1].split("/", 1)[-1] if "/lib/python3" in where else where
        count[where] += 1
        spent[where] += time.perf_counter() - t
comp.compile = compile
if sys.argv[2] == "no-cache":
    import vodai.regexcache as rc
    rc.load = lambda path: {}
    sys.dont_write_bytecode = True
import importlib.util
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps({"import_ms": (time.perf_counter() - t0) * 1000,
                  "by_module": [[m, count[m], spent[m] * 1000] for m in sorted(spent, key=spent.get, reverse=True)]}))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.regexes", description=__doc__.splitlines()[0])
    parser.add_argument("handler", nargs="?", default=str(c.ROOT / "functions" / "on_upload" / "index.py"))
    parser.add_argument("--python", choices=("3.10", "3.11"), default="3.10")
    parser.add_argument("--no-cache", action="store_true", help="ignore the cache and write none")
    args = parser.parse_args(argv)
    python = c.PY310 if args.python == "3.10" else c.PY311
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("VODAI_")}
    env["PYTHONPATH"] = str(c.ROOT / "shared")
    proc = subprocess.run([str(python), "-c", _PROBE, args.handler, "no-cache" if args.no_cache else "cache"],
                          capture_output=True, text=True, env=env, cwd=c.ROOT)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return 1
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = out["by_module"]
    total_n, total_ms = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{Path(args.handler).resolve().relative_to(c.ROOT)} on Python {args.python}: import {out['import_ms']:.1f} ms, "
          f"{total_n} regular expressions compiled in {total_ms:.1f} ms")
    for module, n, ms in rows[:25]:
        print(f"  {ms:7.2f} ms {n:4d}  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
