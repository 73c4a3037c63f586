"""The deployable package, built by the same code as ``make package``: its layout, a reproducible
zip, and the unpacked zip's ``bootstrap`` serving on a bare Python 3.10 (deps only from python/)
that submits a job through the emulator."""

import glob
import os
import re
import socket
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from _servers import emulator_server
from conftest import EVENTS, ROOT

from .checks import AK, SECRET, TOKEN, TOPIC, invoke_and_check_submitted, settings_env
from .conftest import skip_or_fail
from .procs import clean_env, shim_process

from vodai import packaging

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> packaging.PackageResult:
    out = tmp_path_factory.mktemp("build")
    try:
        return packaging.build_package(ROOT, out)
    except packaging.PackagingError as exc:  # e.g. no network to download the manylinux wheels
        skip_or_fail(f"cannot build the package here: {exc}")


def _base_python310() -> str:
    """A Python 3.10 *without* the dependencies, so only the package's python/ can supply them:
    the interpreter behind .venv310 (pyvenv.cfg's home), else pyenv's."""
    candidates = []
    for venv in (os.environ.get("VODAI_TEST_PY310"), str(ROOT / ".venv310" / "bin" / "python")):
        cfg = Path(venv).parent.parent / "pyvenv.cfg" if venv else None
        if cfg and cfg.is_file():
            home = re.search(r"^home\s*=\s*(.+)$", cfg.read_text(), re.M)
            if home:
                candidates.append(str(Path(home.group(1).strip()) / "python3.10"))
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    for python in candidates:
        probe = subprocess.run([python, "-s", "-c", "import sys; assert sys.version_info[:2] == (3, 10); import pydantic"],
                               capture_output=True, text=True) if os.path.exists(python) else None
        if probe is not None and "ModuleNotFoundError" in probe.stderr:
            return python  # a 3.10 that cannot import pydantic on its own
    skip_or_fail("no bare Python 3.10 (one without pydantic installed) to run the package with")


def test_layout(built):
    with zipfile.ZipFile(built.zip_path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    names = list(infos)
    assert names == sorted(names)
    assert (infos["bootstrap"].external_attr >> 16) & 0o777 == 0o755
    assert (infos["functions/on_upload/index.py"].external_attr >> 16) & 0o777 == 0o644
    for required in ("functions/on_upload/index.py", "vodai/handler.py", "vodai/runtime/main.py",
                     "python/flask/__init__.py", "python/waitress/__init__.py", "python/requests/__init__.py"):
        assert required in infos, required
    assert any(re.fullmatch(r"python/pydantic_core/_pydantic_core\.cpython-310-x86_64-linux-gnu\.so", n) for n in names)
    assert not any(n.startswith("python/bin/") for n in names)
    # Left out on purpose (vodai.packaging.LEFT_OUT): requests' encoding guesser, unused by vodai.
    assert not any(n.startswith("python/charset_normalizer") for n in names)
    # Precompiled for FC's Python 3.10 (its code directory is read-only: no cache could be written there).
    for module in ("vodai/handler.py", "vodai/pipeline/dispatch.py", "python/pydantic/main.py", "python/flask/app.py"):
        folder, stem = module.rsplit("/", 1)
        assert f"{folder}/__pycache__/{stem[:-3]}.cpython-310.pyc" in infos, module
    assert not any(n.endswith(".pyc") and "cpython-310" not in n for n in names)
    # And the regular expressions their imports compile (vodai.regexcache), per entry point.
    for cache in ("functions/on_upload/__pycache__/index.cpython-310.regexes",
                  "functions/track_jobs/__pycache__/index.cpython-310.regexes",
                  "functions/vod_callback/__pycache__/index.cpython-310.regexes",
                  "vodai/runtime/__pycache__/main.cpython-310.regexes"):
        assert cache in infos, cache
    # A version of each runtime requirement that pyproject.toml allows (a pin or a range).
    installed = {}  # name -> version, from the package's dist-info folders
    for n in names:
        folder = n.split("/")[1] if n.startswith("python/") and n.count("/") >= 2 else ""
        if folder.endswith(".dist-info"):
            name, version = folder[: -len(".dist-info")].rsplit("-", 1)
            installed[canonicalize_name(name)] = version
    for text in packaging.requirements(ROOT / "pyproject.toml"):
        requirement = Requirement(text)
        version = installed.get(canonicalize_name(requirement.name))
        assert version is not None and requirement.specifier.contains(version), (text, version)
    assert built.zip_bytes == built.zip_path.stat().st_size and built.files == len(names)


def test_package_holds_everything_the_template_names(built):
    from template import rosyaml  # tests/template: the template as the tests read it

    tpl = rosyaml.load()
    with zipfile.ZipFile(built.zip_path) as zf:
        names = set(zf.namelist())
    for name, fn in rosyaml.functions(tpl).items():
        assert fn["Properties"]["CodeUri"] == "./build/package"
        assert f"functions/{name}/index.py" in names, name
    assert "bootstrap" in names


def test_two_builds_in_different_folders_give_the_same_zip(built, tmp_path_factory):
    # Precompiled bytecode must not carry the build folder or per-process randomness.
    try:
        again = packaging.build_package(ROOT, tmp_path_factory.mktemp("elsewhere") / "deeper")
    except packaging.PackagingError as exc:
        skip_or_fail(f"cannot build the package here: {exc}")
    assert again.zip_path.read_bytes() == built.zip_path.read_bytes()


def test_zip_is_reproducible(built, tmp_path):
    again = tmp_path / "again.zip"
    packaging.write_zip(built.package_dir, again)
    assert again.read_bytes() == built.zip_path.read_bytes()


# Imports one entry point of the unpacked package and prints how many regular expressions were
# compiled meanwhile (the package's caches should leave none).
_COUNT_COMPILES = r"""
import importlib, importlib.util, sys
import sre_compile
compiled = []
original = sre_compile.compile
sre_compile.compile = lambda p, flags=0: (compiled.append(p), original(p, flags))[1]
target = sys.argv[1]
if target.endswith(".py"):
    spec = importlib.util.spec_from_file_location("index", target)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
else:
    importlib.import_module(target)
print(len(compiled), compiled[:5])
"""


def test_unpacked_package_compiles_no_regex_at_its_entry_points_on_python310(built, tmp_path):
    python = _base_python310()
    code = tmp_path / "code"
    _unzip(built.zip_path, code)
    env = clean_env({"PYTHONPATH": f"{code}{os.pathsep}{code / 'python'}", "PYTHONNOUSERSITE": "1"})
    for target in ("functions/on_upload/index.py", "functions/track_jobs/index.py",
                   "functions/vod_callback/index.py", "vodai.runtime.main"):
        # -B: as on FC's read-only code folder, nothing is written; the package's caches serve.
        proc = subprocess.run([python, "-B", "-c", _COUNT_COMPILES, target], capture_output=True, text=True,
                              env=env, cwd=code)
        assert proc.returncode == 0, proc.stderr[-2000:]
        count = int(proc.stdout.split()[0])
        # Compiled before a cache is opened: vodai/__init__'s warnings filter (2), and for the shim
        # the stdlib modules its package imports first (dataclasses, tokenize: 3). Without the
        # caches, about a hundred (asserted below for on_upload).
        assert count <= (2 if target.endswith(".py") else 5), (target, proc.stdout)
    for cache in code.rglob("*.regexes"):
        cache.unlink()
    proc = subprocess.run([python, "-B", "-c", _COUNT_COMPILES, "functions/on_upload/index.py"],
                          capture_output=True, text=True, env=env, cwd=code)
    assert proc.returncode == 0 and int(proc.stdout.split()[0]) > 50, proc.stdout + proc.stderr[-2000:]


def _unzip(zip_path: Path, dest: Path) -> None:
    """Unpack as FC does, keeping each entry's mode (zipfile alone drops them)."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            target.chmod((info.external_attr >> 16) & 0o777)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_unpacked_bootstrap_serves_on_python310_from_the_package_alone(built, tmp_path):
    python = _base_python310()
    code = tmp_path / "code"
    _unzip(built.zip_path, code)
    assert os.stat(code / "bootstrap").st_mode & stat.S_IXUSR
    port = _free_port()
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as server:
        env = clean_env({**settings_env(server.url), "VODAI_PYTHON": python, "VODAI_FUNCTION": "on_upload",
                         "FC_SERVER_PORT": str(port), "PYTHONNOUSERSITE": "1"})
        env.pop("PYTHONPATH", None)
        with shim_process([str(code / "bootstrap")], env, "vodai runtime: on_upload", cwd=code) as shim:
            assert shim.url == f"http://127.0.0.1:{port}"
            sample = "mns-topic-json/video-cn-beijing.json"
            invoke_and_check_submitted(shim, server, sample, (EVENTS / sample).read_bytes())
            maps = Path(f"/proc/{shim.process.pid}/maps")
            if maps.exists():  # Linux: the compiled pydantic_core really came from the package
                assert str(code / "python" / "pydantic_core") in maps.read_text()
                assert "charset_normalizer" not in maps.read_text()
            stderr = shim.stderr_path.read_text(encoding="utf-8", errors="replace")
            # requests, without the guesser the package leaves out, warns at import: vodai filters that.
            assert "Warning" not in stderr, stderr[-2000:]
