"""Benchmarks 1 and 2: cold starts, every variant alternated round by round in one run.

A *variant* is one way to start cold and handle one event end to end (submit + publish over real
HTTP to ``vodai emulator`` running as a server process). Each round runs every variant once,
in an order rotated from round to round (no variant always goes first, right after a quiet
machine), so each figure and its baseline are measured alternately in the same run.

- ``handler`` variants: ``bench/child.py`` in a fresh interpreter imports a handler file and
  calls it once: vodai's ``functions/on_upload/index.py``, the official-SDK handler, the stdlib
  floor, and a no-op handler (the interpreter and runner alone). Wall time is from ``Popen`` to
  the child's exit (``os.wait4``), "to the answer" from ``Popen`` to the handler's return (what FC
  bills: an instance's exit is not billed); peak memory is the child's peak RSS (its own ``VmHWM``; the
  ``ru_maxrss`` that ``wait4`` returns is kept too, as ``ru_maxrss_mb``: it includes the parent's
  pages the child held between ``fork`` and ``exec``, a floor of about the driver's size).
- ``bootstrap`` variants (:mod:`bench.custom_runtime`): from starting ``bootstrap`` to the first
  successful ``POST /invoke`` answer.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from . import common as c

HANDLERS = {
    "vodai": c.ROOT / "functions" / "on_upload" / "index.py",
    "sdk": c.BENCH / "baselines" / "official_sdk_handler.py",
    "stdlib": c.BENCH / "baselines" / "stdlib_floor.py",
    "noop": c.BENCH / "baselines" / "noop_handler.py",
    "deps": c.BENCH / "baselines" / "deps_floor.py",
}
CHILD = c.BENCH / "child.py"


SQLITE = "sqlite"


@dataclass
class Variant:
    name: str
    label: str
    kind: str  # "handler" or "bootstrap"
    python: Path
    handler: Optional[Path] = None
    # The job store: a URL, or SQLITE for a new SQLite file per round (what a fresh FC instance
    # with the SQLite store starts with; the targets' "SQLite store" row).
    store: str = "memory://"
    baseline: Optional[str] = None  # the variant this one is compared with
    runner: Optional[Callable] = None  # bootstrap variants: custom_runtime.run_bootstrap
    env: Dict[str, str] = field(default_factory=dict)  # extra environment of the child
    loopback: bool = False  # against the emulator without added latency (reported, no target)
    extra: dict = field(default_factory=dict)
    samples: Dict[str, List[float]] = field(default_factory=dict)

    def add(self, **values: float) -> None:
        for k, v in values.items():
            self.samples.setdefault(k, []).append(v)


def handler_variants(*, py312: bool = True, redis_url: Optional[str] = None, loopback: bool = False) -> List[Variant]:
    out = [
        Variant("sdk", "official SDKs (alibabacloud-vod20170321 + aliyun-mns-sdk), Python 3.11", "handler",
                c.PY311, HANDLERS["sdk"]),
        Variant("vodai", "vodai `on_upload`, SQLite store, Python 3.11", "handler", c.PY311, HANDLERS["vodai"],
                store=SQLITE, baseline="sdk"),
        Variant("stdlib", "stdlib floor (http.client + hmac), Python 3.11", "handler", c.PY311, HANDLERS["stdlib"],
                baseline="sdk"),
        Variant("noop", "bare interpreter + runner, no work, Python 3.11", "handler", c.PY311, HANDLERS["noop"],
                baseline="sdk"),
        Variant("deps", "dependencies floor (stdlib floor after importing requests + pydantic), Python 3.11",
                "handler", c.PY311, HANDLERS["deps"], baseline="sdk"),
    ]
    if redis_url:
        out.append(Variant("vodai-redis", "vodai `on_upload` with the Redis store (production setting), Python 3.11",
                           "handler", c.PY311, HANDLERS["vodai"], store=redis_url, baseline="sdk"))
    if py312 and c.PY312.exists():
        # On FC both handlers would run on 3.12: the 3.12 rows are compared with the SDK on 3.12
        # when its venv is there (make bench builds it), else with the SDK on 3.11.
        sdk312 = c.sdk312_ready()
        if sdk312:
            out.append(Variant("sdk-py312", "official SDKs, Python 3.12 (FC's)", "handler", c.PY312_SDK,
                               HANDLERS["sdk"], baseline="sdk"))
        base = "sdk-py312" if sdk312 else "sdk"
        out.append(Variant("vodai-py312", "vodai `on_upload`, SQLite store, Python 3.12 (FC's)", "handler", c.PY312,
                           HANDLERS["vodai"], store=SQLITE, baseline=base))
        if redis_url:  # production as FC runs it: the Redis store on Python 3.12
            out.append(Variant("vodai-redis-py312", "vodai `on_upload` with the Redis store (production setting), "
                               "Python 3.12 (FC's)", "handler", c.PY312, HANDLERS["vodai"], store=redis_url,
                               baseline=base))
        out.append(Variant("deps-py312", "dependencies floor, Python 3.12", "handler", c.PY312, HANDLERS["deps"],
                           baseline=base))
        out.append(Variant("stdlib-py312", "stdlib floor, Python 3.12", "handler", c.PY312, HANDLERS["stdlib"],
                           baseline=base))
    if loopback:
        # The same pair on FC's Python against the emulator on loopback (no added latency).
        py312 = py312 and c.PY312.exists() and c.sdk312_ready()
        sdk_py, vodai_py, tag = (c.PY312_SDK, c.PY312, ", Python 3.12 (FC's)") if py312 else (c.PY311, c.PY311, ", Python 3.11")
        out.append(Variant("sdk-loopback", f"official SDKs, loopback server (no added latency){tag}", "handler", sdk_py,
                           HANDLERS["sdk"], loopback=True))
        out.append(Variant("vodai-loopback", f"vodai `on_upload`, SQLite store, loopback server (no added latency){tag}",
                           "handler", vodai_py, HANDLERS["vodai"], store=SQLITE, baseline="sdk-loopback", loopback=True))
    return out


def run_handler(v: Variant, server: c.EmulatorServer, tmp: Path, n: int, *, check: bool = True) -> dict:
    event_file = tmp / f"event-{v.name}-{n}.json"
    event_file.write_bytes(c.video_event(n, tag=f"cold{abs(hash(v.name)) % 10_000:04d}"))
    out_file, err_file = tmp / f"{v.name}.out", tmp / f"{v.name}.err"
    command = [str(v.python), str(CHILD), str(v.handler), str(event_file), str(uuid.uuid4()),
               c.AK, c.SECRET, c.TOKEN, "cn-hangzhou"]
    store = f"sqlite:///{tmp / f'cold-{v.name}-{n}.sqlite3'}" if v.store == SQLITE else v.store
    env = c.handler_env(server.url, store=store, tmp=tmp)
    env.update(v.env)
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        t0, started = time.perf_counter(), time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=tmp)
        rss_kb = c.wait_rusage(proc)
        wall = time.perf_counter() - t0
    text = out_file.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0 or not text.startswith("BENCH "):
        raise RuntimeError(f"cold start {v.name} failed (exit {proc.returncode}):\n{text}\n"
                           f"{err_file.read_text(errors='replace')[-3000:]}")
    first, _, result = text.partition("\n")
    if check and v.name != "noop":
        doc = json.loads(result)
        ok = doc.get("Counts", {}).get("submitted") == 1 if "Counts" in doc else doc.get("Status") == "submitted"
        if not ok or "JobId" not in result:
            raise RuntimeError(f"cold start {v.name}: the event was not submitted: {result[:500]}")
    _, import_ms, handle_ms, hwm_kb, answered = first.split()
    hwm_kb = int(hwm_kb)
    return {"wall_ms": wall * 1000, "answer_ms": (float(answered) - started) * 1000,
            "rss_mb": (hwm_kb or rss_kb) / 1024, "ru_maxrss_mb": rss_kb / 1024,
            "import_ms": float(import_ms), "handle_ms": float(handle_ms)}


def run_variant(v: Variant, server: c.EmulatorServer, tmp: Path, n: int,
                loopback_server: Optional[c.EmulatorServer] = None) -> dict:
    if v.loopback:
        if loopback_server is None:
            raise ValueError(f"{v.name} needs the loopback server")
        server = loopback_server
    if v.kind == "handler":
        return run_handler(v, server, tmp, n)
    return v.runner(v, server, tmp, n)


def run_rounds(variants: List[Variant], rounds: int, server: c.EmulatorServer, tmp: Path, *,
               warmup: bool = True, loopback_server: Optional[c.EmulatorServer] = None) -> None:
    """One unmeasured warm-up each (page cache, .pyc files), then ``rounds`` rotated rounds.
    ``server``: the emulator every variant runs against, but the ``loopback`` ones (``loopback_server``)."""
    if warmup:
        for v in variants:
            run_variant(v, server, tmp, 0, loopback_server)
    n = 1
    for r in range(rounds):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for v in order:
            v.add(**run_variant(v, server, tmp, n, loopback_server))
            n += 1
        c.log(f"cold start round {r + 1}/{rounds}: " + ", ".join(
            f"{v.name} {v.samples['wall_ms'][-1]:.0f} ms" for v in variants))


def results(variants: List[Variant]) -> dict:
    by_name = {v.name: v for v in variants}
    rows = []
    for v in variants:
        row = {"name": v.name, "label": v.label, "kind": v.kind, "python": str(v.python.name if v.python else ""),
               **{k: c.summary(vals) for k, vals in v.samples.items()},
               **{k: val for k, val in v.extra.items() if k not in ("root", "vodai_python")}}
        base = by_name.get(v.baseline) if v.baseline else None
        if base is not None:
            row["baseline"] = base.name
            row["wall_ratio"] = c.ratio(v.samples["wall_ms"], base.samples["wall_ms"])
            if "answer_ms" in v.samples and "answer_ms" in base.samples:
                row["answer_ratio"] = c.ratio(v.samples["answer_ms"], base.samples["answer_ms"])
            row["rss_ratio"] = c.ratio(v.samples["rss_mb"], base.samples["rss_mb"])
            sdk311 = by_name.get("sdk")
            if base.name == "sdk-py312" and sdk311 is not None:  # a 3.12 row: against the SDK on 3.11 too
                row["wall_ratio_sdk311"] = c.ratio(v.samples["wall_ms"], sdk311.samples["wall_ms"])
                row["rss_ratio_sdk311"] = c.ratio(v.samples["rss_mb"], sdk311.samples["rss_mb"])
        rows.append(row)
    return {"rows": rows}
