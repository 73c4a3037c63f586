"""Benchmark 2: the custom-runtime cold start, from starting ``bootstrap`` to the first
successful ``POST /invoke`` answer (sent as FC sends it, with the ``x-fc-*`` headers).

Variants (each a :class:`bench.coldstart.Variant`, alternated with the official-SDK handler's
plain cold start in the same rounds):

- ``bootstrap-package-pyc``: the deployable folder as ``make package`` lays it out (``bootstrap``,
  ``functions/``, ``vodai/``, ``python/``) on a bare CPython 3.12, with the ``.pyc`` files it ships
  since commit bef1983 (compiled by ``vodai.packaging.precompile`` itself when the tree has it).
- ``bootstrap-package``: the same folder **without .pyc files**, as packages were before bef1983:
  ``/code`` is read-only and ``bootstrap`` sets PYTHONDONTWRITEBYTECODE=1, so every cold start then
  compiles every module it imports from source.

The package folders are assembled in a temporary directory from the current ``shared/vodai``,
``functions/`` and ``bootstrap`` plus the CPython 3.12 dependencies of ``build/package/python``
(made by ``make package``, which needs PyPI; without it the package variants are skipped).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import List, Optional

from . import common as c
from .coldstart import Variant

PACKAGE_DEPS = c.ROOT / "build" / "package" / "python"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def bare_python312() -> Optional[Path]:
    """The interpreter behind .venv312 (no site-packages of ours): FC's layer is a bare 3.12."""
    if not c.PY312.exists():
        return None
    return Path(os.path.realpath(c.PY312))


def assemble_package(dest: Path) -> Optional[Path]:
    """A package folder as ``make package`` builds it, from the current sources (no network)."""
    if not PACKAGE_DEPS.is_dir():
        return None
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(c.ROOT / "bootstrap", dest / "bootstrap")
    os.chmod(dest / "bootstrap", 0o755)
    shutil.copytree(c.ROOT / "functions", dest / "functions", ignore=_SKIP)
    shutil.copytree(c.ROOT / "shared" / "vodai", dest / "vodai", ignore=_SKIP)
    shutil.copytree(PACKAGE_DEPS, dest / "python", ignore=_SKIP)
    return dest


def precompile(package: Path, python: Path) -> None:
    """.pyc for every module, as ``make package`` ships them: ``vodai.packaging.precompile`` when
    the tree has it; else the bytecode by hand (CPython 3.12, unchecked-hash: valid whatever the files'
    mtimes, and the zip stores 1980-01-01)."""
    try:
        from vodai.packaging import precompile as shipped
    except ImportError:
        shipped = None
    if shipped is not None:
        shipped(package)
        return
    subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                    str(package / "vodai"), str(package / "functions"), str(package / "python")],
                   check=True, stdout=subprocess.DEVNULL)


def package_size(package: Path) -> dict:
    files = [p for p in package.rglob("*") if p.is_file()]
    return {"files": len(files), "mb": round(sum(p.stat().st_size for p in files) / 1e6, 1)}


def bootstrap_variants(tmp: Path) -> List[Variant]:
    out: List[Variant] = []
    bare = bare_python312()
    base = "sdk-py312" if c.sdk312_ready() else "sdk"  # the runtime runs on 3.12: so does its baseline
    package = assemble_package(tmp / "package") if bare else None
    if package is not None:
        out.append(Variant("bootstrap-package", "custom runtime: package without .pyc (as before bef1983), bare 3.12",
                           "bootstrap", bare, baseline=base, runner=run_bootstrap,
                           extra={"root": str(package), "vodai_python": str(bare), "size": package_size(package)}))
        compiled = tmp / "package-pyc"
        shutil.copytree(package, compiled)
        precompile(compiled, bare)
        out.append(Variant("bootstrap-package-pyc", "custom runtime: package as `make package` builds it (.pyc), bare 3.12",
                           "bootstrap", bare, baseline=base, runner=run_bootstrap,
                           extra={"root": str(compiled), "vodai_python": str(bare), "size": package_size(compiled)}))
    return out


def fc_headers(request_id: str) -> dict:
    return {
        "Content-Type": "application/octet-stream",
        "x-fc-request-id": request_id,
        "x-fc-access-key-id": c.AK,
        "x-fc-access-key-secret": c.SECRET,
        "x-fc-security-token": c.TOKEN,
        "x-fc-function-name": "on_upload",
        "x-fc-function-handler": "index.handler",
        "x-fc-function-memory": "512",
        "x-fc-function-timeout": "60",
        "x-fc-region": "cn-hangzhou",
        "x-fc-account-id": c.ACCOUNT,
        "x-fc-control-path": "/invoke",
    }


def run_bootstrap(v: Variant, server: c.EmulatorServer, tmp: Path, n: int, *, timeout: float = 60.0) -> dict:
    root = Path(v.extra["root"])
    port = c.free_port()
    env = c.handler_env(server.url, store=v.store, tmp=tmp)
    env.update(v.env)
    env.update(VODAI_FUNCTION="on_upload", FC_SERVER_PORT=str(port), VODAI_PYTHON=v.extra["vodai_python"])
    event = c.video_event(n, tag=f"boot{len(v.name):02d}{n % 100:02d}")
    log_file = tmp / f"{v.name}.log"
    listen = None
    with open(log_file, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(root / "bootstrap")], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=tmp)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{v.name}: bootstrap exited ({proc.returncode}):\n"
                                       + log_file.read_text(errors="replace")[-3000:])
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError(f"{v.name}: no answer within {timeout} s")
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                try:
                    conn.connect()
                except ConnectionRefusedError:
                    conn.close()
                    time.sleep(0.002)
                    continue
                listen = time.perf_counter() - t0
                conn.request("POST", "/invoke", body=event, headers=fc_headers(str(uuid.uuid4())))
                response = conn.getresponse()
                body = response.read()
                first = time.perf_counter() - t0
                conn.close()
                break
        finally:
            if proc.returncode is None:
                hwm_kb = c.proc_hwm_kb(proc.pid)
                proc.terminate()
                rss_kb = c.wait_rusage(proc)
    if response.status != 200 or response.getheader("x-fc-status"):
        raise RuntimeError(f"{v.name}: /invoke answered {response.status}: {body[:500]!r}")
    doc = json.loads(body)
    if doc.get("Counts", {}).get("submitted") != 1:
        raise RuntimeError(f"{v.name}: the event was not submitted: {body[:500]!r}")
    return {"wall_ms": first * 1000, "listen_ms": listen * 1000, "invoke_ms": (first - listen) * 1000,
            "rss_mb": (hwm_kb or rss_kb) / 1024, "ru_maxrss_mb": rss_kb / 1024}
