"""The deployable package, built by the same code as ``make package``: its layout, a reproducible
zip, and the unpacked zip's ``bootstrap`` serving on a bare Python 3.12 found as custom.debian12
provides it (deps only from python/) that submits a job through the emulator."""

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


def _base_python312() -> str:
    """A Python 3.12 *without* the dependencies, so only the package's python/ can supply them:
    the interpreter behind .venv312 (pyvenv.cfg's home), else pyenv's, else one on PATH."""
    candidates = []
    for venv in (os.environ.get("VODAI_TEST_PY312"), str(ROOT / ".venv312" / "bin" / "python")):
        cfg = Path(venv).parent.parent / "pyvenv.cfg" if venv else None
        if cfg and cfg.is_file():
            home = re.search(r"^home\s*=\s*(.+)$", cfg.read_text(), re.M)
            if home:
                candidates.append(str(Path(home.group(1).strip()) / "python3.12"))
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    candidates += ["/usr/bin/python3.12", "/usr/local/bin/python3.12"]
    for python in candidates:
        probe = subprocess.run([python, "-s", "-c", "import sys; assert sys.version_info[:2] == (3, 12); import pydantic"],
                               capture_output=True, text=True) if os.path.exists(python) else None
        if probe is not None and "ModuleNotFoundError" in probe.stderr:
            return os.path.realpath(python)  # a 3.12 that cannot import pydantic on its own
    skip_or_fail("no bare Python 3.12 (one without pydantic installed) to run the package with")


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
    assert any(re.fullmatch(r"python/pydantic_core/_pydantic_core\.cpython-312-x86_64-linux-gnu\.so", n) for n in names)
    # Every compiled extension is for CPython 3.12 (a cp310 or abi3-less other-version wheel is a bug).
    for name in names:
        if name.endswith(".so"):
            assert re.search(r"\.(cpython-312-x86_64-linux-gnu|abi3)\.so$", name), name
    for dist in {n.split("/")[1] for n in names if n.startswith("python/") and ".dist-info/" in n}:
        wheel = zipfile.ZipFile(built.zip_path).read(f"python/{dist}/WHEEL").decode()
        tags = re.findall(r"^Tag: (\S+)$", wheel, re.M)
        assert tags and all(t.startswith(("cp312-", "py3-", "py2.py3-")) for t in tags), (dist, tags)
    assert not any(n.startswith("python/bin/") for n in names)
    # Left out on purpose (vodai.packaging.LEFT_OUT): requests' encoding guesser, unused by vodai.
    assert not any(n.startswith("python/charset_normalizer") for n in names)
    # Precompiled for FC's Python 3.12 (its code directory is read-only: no cache could be written there).
    for module in ("vodai/handler.py", "vodai/pipeline/dispatch.py", "python/pydantic/main.py", "python/flask/app.py"):
        folder, stem = module.rsplit("/", 1)
        assert f"{folder}/__pycache__/{stem[:-3]}.cpython-312.pyc" in infos, module
    assert not any(n.endswith(".pyc") and "cpython-312" not in n for n in names)
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
        assert fn["Properties"]["Code"]["OssObjectName"] == {"Ref": "CodeObject"}  # the zip, uploaded
        assert f"functions/{name}/index.py" in names, name
        assert fn["Properties"]["CustomRuntimeConfig"]["Command"] == ["/code/bootstrap"]
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
def test_unpacked_bootstrap_serves_on_python312_from_the_package_alone(built, tmp_path):
    python = _base_python312()
    code = tmp_path / "code"
    _unzip(built.zip_path, code)
    assert os.stat(code / "bootstrap").st_mode & stat.S_IXUSR
    # As custom.debian12 provides it: /opt/python3.12/bin on PATH (here a folder of our own holding
    # that interpreter as python3.12), no VODAI_PYTHON; bootstrap finds it by itself.
    runtime_bin = tmp_path / "opt" / "python3.12" / "bin"
    runtime_bin.mkdir(parents=True)
    (runtime_bin / "python3.12").symlink_to(python)
    port = _free_port()
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as server:
        env = clean_env({**settings_env(server.url), "VODAI_FUNCTION": "on_upload",
                         "FC_SERVER_PORT": str(port), "PYTHONNOUSERSITE": "1"})
        env.pop("PYTHONPATH", None)
        env.pop("VODAI_PYTHON", None)
        env["PATH"] = f"{runtime_bin}:/usr/bin:/bin"
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
