"""Measured before/after of the proposed fixes, without touching ``shared/``.

- cold start (alternated in the same rounds as benchmark 1, against the same SDK baseline):
  ``vodai+plugins-off``, ``vodai+defer``, ``vodai+defer+plugins-off`` (:mod:`.patched_handler`),
  and ``bootstrap-lean`` (the precompiled package whose ``bootstrap`` runs :mod:`.lean_shim`
  instead of the Flask shim);
- ``vodai+stdlib-transport``: vodai unchanged on :mod:`stdlib_requests` (requests' API over
  ``http.client``), to measure what the requests stack costs;
- warm: ``python -m bench.warm`` as is and on the stdlib transport, alternated process by process
  (the warm-path patches of :mod:`.patches` are in the tree since 262ead2; ``--patch`` still applies
  them to an older tree, and each one detects a tree that has its fix and does nothing);
- replay: the vodai worker as is, on the stdlib transport, and the raw baseline, alternated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import List

from .. import common as c
from ..coldstart import HANDLERS, Variant
from ..custom_runtime import run_bootstrap

PATCHED_HANDLER = c.BENCH / "experiments" / "patched_handler.py"
LEAN_SHIM = c.BENCH / "experiments" / "lean_shim.py"
STDLIB_REQUESTS = c.BENCH / "experiments" / "stdlib_requests"
WARM_PATCHES = "prepare,asdict,encode,memstore"
WARM_PATCHES_STDLIB = "asdict,encode,memstore"  # no "prepare": the stdlib transport prepares directly
REPLAY_PATCHES = "prepare,asdict,encode,sqlite"
REPLAY_PATCHES_STDLIB = "asdict,encode,sqlite"
# The warm-path patches are in the tree since 262ead2 (each patch now detects that and does nothing):
# the arms left measure what is still open. Add "patched" back to measure a tree without them.


def coldstart_variants(tmp: Path, runtime_variants: List[Variant]) -> List[Variant]:
    out = [
        Variant("vodai+plugins-off", "vodai, PYDANTIC_DISABLE_PLUGINS=__all__", "handler", c.PY311,
                HANDLERS["vodai"], baseline="sdk", env={"PYDANTIC_DISABLE_PLUGINS": "__all__"}),
        Variant("vodai+defer", "vodai, pydantic defer_build=True", "handler", c.PY311, PATCHED_HANDLER,
                baseline="sdk", env={"BENCH_DEFER_BUILD": "1"}),
        Variant("vodai+defer+plugins-off", "vodai, defer_build + plugins off", "handler", c.PY311, PATCHED_HANDLER,
                baseline="sdk", env={"BENCH_DEFER_BUILD": "1", "PYDANTIC_DISABLE_PLUGINS": "__all__"}),
        Variant("vodai+stdlib-transport", "vodai on http.client instead of requests (bench/experiments/stdlib_requests)",
                "handler", c.PY311, HANDLERS["vodai"], baseline="sdk", env={"PYTHONPATH": str(STDLIB_REQUESTS)}),
        Variant("vodai+stdlib+defer+plugins-off", "vodai on http.client + defer_build + plugins off", "handler",
                c.PY311, PATCHED_HANDLER, baseline="sdk",
                env={"PYTHONPATH": str(STDLIB_REQUESTS), "BENCH_DEFER_BUILD": "1", "PYDANTIC_DISABLE_PLUGINS": "__all__"}),
    ]
    compiled = next((v for v in runtime_variants if v.name == "bootstrap-package-pyc"), None)
    if compiled is not None:
        lean = tmp / "package-lean"
        if lean.exists():
            shutil.rmtree(lean)
        shutil.copytree(compiled.extra["root"], lean)
        shutil.copy2(LEAN_SHIM, lean / "lean_shim.py")
        subprocess.run([str(compiled.python), "-m", "py_compile", str(lean / "lean_shim.py")], check=True)
        boot = lean / "bootstrap"
        text = boot.read_text()
        boot.write_text(text.replace('exec "$PYTHON" -m vodai.runtime.main', 'exec "$PYTHON" -m lean_shim'))
        out.append(Variant("bootstrap-lean", "custom runtime: precompiled package + shim without Flask, first /invoke",
                           "bootstrap", compiled.python, baseline=compiled.baseline, runner=run_bootstrap,
                           extra={"root": str(lean), "vodai_python": compiled.extra["vodai_python"]}))
        out.append(Variant("bootstrap-lean+defer", "custom runtime: precompiled + no Flask + defer_build + plugins off",
                           "bootstrap", compiled.python, baseline=compiled.baseline, runner=run_bootstrap,
                           env={"BENCH_DEFER_BUILD": "1", "PYDANTIC_DISABLE_PLUGINS": "__all__"},
                           extra={"root": str(lean), "vodai_python": compiled.extra["vodai_python"],
                                  "note": "defer_build applied through sitecustomize"}))
        (lean / "sitecustomize.py").write_text(
            "import os\nif os.environ.get('BENCH_DEFER_BUILD'):\n"
            "    from pydantic._internal import _config\n    _config.config_defaults['defer_build'] = True\n")
        subprocess.run([str(compiled.python), "-m", "py_compile", str(lean / "sitecustomize.py")], check=True)
    return out


WARM_ARMS = {
    "plain": [],
    "stdlib-transport": ["--patch", WARM_PATCHES_STDLIB, "--stdlib-transport"],
}
REPLAY_IMPLS = ("vodai", "vodai-stdlib", "raw")


def warm(events: int, runs: int, warmup: int) -> dict:
    """canned mode: as is, and on the stdlib transport; one process each, rotated."""
    names = list(WARM_ARMS)
    p50 = {n: [] for n in names}
    p99 = {n: [] for n in names}
    for run in range(runs):
        for name in names[run % len(names):] + names[: run % len(names)]:
            command = [str(c.PY311), "-m", "bench.warm", "--events", str(events), "--runs", "1", "--warmup",
                       str(warmup), "--modes", "canned", *WARM_ARMS[name]]
            proc = subprocess.run(command, capture_output=True, text=True, cwd=c.ROOT)
            if proc.returncode != 0:
                raise RuntimeError(f"warm experiment {name} failed:\n{proc.stderr[-3000:]}")
            mode = json.loads(proc.stdout)["modes"]["canned"]
            p50[name].append(mode["p50_us"]["median"])
            p99[name].append(mode["p99_us"]["median"])
    return {"events": events, "runs": runs,
            "arms": {n: {"args": " ".join(WARM_ARMS[n]), "p50_us": c.summary(p50[n], 1), "p99_us": c.summary(p99[n], 1),
                         "ratio": c.ratio(p50[n], p50["plain"])} for n in names}}


def replay(n_events: int, concurrency: int, segments: int) -> dict:
    from .. import replay_throughput as rt

    return rt.run_all(n_events, [concurrency], segments, impls=REPLAY_IMPLS)
