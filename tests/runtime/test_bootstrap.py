"""``bootstrap``: which Python it picks, what it puts on PYTHONPATH, and that it execs the shim
at the code root. Fake interpreters record how they were started (no real server here; the
packaging test runs the real one)."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

# Answers bootstrap's version probe (-c ...) with $FAKE_PROBE (0 = "I am 3.12"), else records the start.
FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-c" ]; then exit "${FAKE_PROBE:-0}"; fi
printf '%s\\n' "name=NAME" "args=$*" "cwd=$(pwd)" "pythonpath=$PYTHONPATH" "unbuffered=$PYTHONUNBUFFERED" > "$FAKE_OUT"
"""
FC_PATHS = ("/opt/python3.12/bin/python3.12", "/var/fc/lang/python3.12/bin/python3.12")


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    root.mkdir()
    shutil.copy2(ROOT / "bootstrap", root / "bootstrap")
    return root


def _fake(directory: Path, name: str, probe: int = 0) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(FAKE_PYTHON.replace("NAME", name).replace("${FAKE_PROBE:-0}", str(probe)))
    path.chmod(0o755)
    return path


def _run(code_root: Path, tmp_path: Path, env: dict):
    out = tmp_path / "started.txt"
    proc = subprocess.run([str(code_root / "bootstrap")], cwd=tmp_path, capture_output=True, text=True,
                          env={"FAKE_OUT": str(out), **env}, timeout=30)
    started = dict(line.split("=", 1) for line in out.read_text().splitlines()) if out.exists() else None
    return proc, started


def test_bootstrap_is_executable_posix_sh():
    mode = (ROOT / "bootstrap").stat().st_mode
    assert mode & stat.S_IXUSR and mode & stat.S_IXGRP and mode & stat.S_IXOTH
    assert (ROOT / "bootstrap").read_text().startswith("#!/bin/sh\n")
    if shutil.which("dash"):  # the strictest POSIX sh around
        assert subprocess.run(["dash", "-n", str(ROOT / "bootstrap")]).returncode == 0


def test_vodai_python_runs_the_shim_module_at_the_code_root(code_root, tmp_path):
    python = _fake(tmp_path / "bin", "custom-python")
    proc, started = _run(code_root, tmp_path, {"PATH": "/nonexistent", "VODAI_PYTHON": str(python),
                                               "PYTHONPATH": "/layer/python"})
    assert proc.returncode == 0, proc.stderr
    assert started["name"] == "custom-python" and started["args"] == "-m vodai.runtime.main"
    assert started["cwd"] == str(code_root)
    assert started["pythonpath"] == f"{code_root}:{code_root}/python:/layer/python"
    assert started["unbuffered"] == "1"


def test_python312_on_path_comes_before_python3(code_root, tmp_path):
    if any(os.path.exists(p) for p in FC_PATHS):
        pytest.skip("this machine has FC's Python 3.12 path, which bootstrap rightly prefers")
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "python3.12")
    _fake(bin_dir, "python3")
    proc, started = _run(code_root, tmp_path, {"PATH": str(bin_dir)})
    assert proc.returncode == 0, proc.stderr
    assert started["name"] == "python3.12"
    (bin_dir / "python3.12").unlink()
    assert _run(code_root, tmp_path, {"PATH": str(bin_dir)})[1]["name"] == "python3"


def test_a_python_that_is_not_312_is_skipped_and_none_found_fails(code_root, tmp_path):
    if any(os.path.exists(p) for p in FC_PATHS):
        pytest.skip("this machine has FC's Python 3.12 path")
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "python3", probe=1)  # e.g. Debian 12's own 3.11: the cp312 wheels would not load
    proc, started = _run(code_root, tmp_path, {"PATH": str(bin_dir)})
    assert proc.returncode == 127 and started is None
    assert "no Python 3.12 found" in proc.stderr and "VODAI_PYTHON" in proc.stderr


def test_a_wrong_vodai_python_fails_instead_of_falling_back(code_root, tmp_path):
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "python3.12")
    proc, started = _run(code_root, tmp_path, {"PATH": str(bin_dir), "VODAI_PYTHON": "/no/such/python"})
    assert proc.returncode == 127 and started is None
    assert "VODAI_PYTHON=/no/such/python" in proc.stderr
