"""Building the deployable FC code: ``build/package/`` and ``build/vodai.zip`` (``make package``).

    build/package/
      bootstrap          the custom-runtime entry point (mode 755)
      functions/         every function's index.py
      vodai/             this package
      python/            runtime dependencies for CPython 3.12 on manylinux2014_x86_64

The dependencies are pyproject.toml's runtime ``dependencies`` plus, from the ``tools`` extra,
what the shim serves with (flask, waitress), at the versions pinned there, minus what vodai
never uses at run time (``LEFT_OUT``). pip fetches them for
FC's platform whatever this machine is (``--platform``/``--python-version``, wheels only).
The zip lists entries sorted, with fixed timestamps and normalized modes, so the same inputs
give the same bytes.

    python -m vodai.packaging [--root .] [--out build]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

from .exceptions import PackagingError

PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.12"  # custom.debian12 ships /opt/python3.12
IMPLEMENTATION = "cp"
SHIM_TOOLS = ("flask", "waitress")  # from the tools extra: the shim's server, not the CLI's
# Installed as requests' dependency but left out of the package: charset_normalizer only guesses
# the encoding of a response that names none, for Response.text. vodai reads its answers as the
# UTF-8 JSON and XML they are and never calls .text; without a guesser requests falls back to
# UTF-8 (and warns at import: vodai/__init__ filters that one warning). 3 MB less at every cold
# start, and none of its import time.
LEFT_OUT = ("charset_normalizer",)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: no build time in the archive
_SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache"}


@dataclass
class PackageResult:
    package_dir: Path
    zip_path: Path
    files: int
    unpacked_bytes: int
    zip_bytes: int

    def summary(self) -> str:
        return (f"vodai package: {self.package_dir} ({self.files} files, {_mb(self.unpacked_bytes)} unpacked)"
                f" -> {self.zip_path} ({_mb(self.zip_bytes)})")


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def requirements(pyproject: Path) -> List[str]:
    """The pinned runtime requirements: ``dependencies`` plus the shim's tools, as pyproject pins them."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: packaging runs from the 3.11 dev venv
        raise PackagingError("reading pyproject.toml needs Python 3.11+ (tomllib)") from None
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    tools = {_name(r): r for r in project.get("optional-dependencies", {}).get("tools", [])}
    missing = [t for t in SHIM_TOOLS if t not in tools]
    if missing:
        raise PackagingError(f"pyproject.toml: the tools extra does not pin {', '.join(missing)}")
    return list(project["dependencies"]) + [tools[t] for t in SHIM_TOOLS]


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=lambda _d, names: [n for n in names if n in _SKIP or n.endswith(".pyc")])


def install_dependencies(reqs: Sequence[str], target: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--target", str(target), "--platform", PLATFORM, "--python-version", PYTHON_VERSION,
        "--implementation", IMPLEMENTATION, "--only-binary=:all:",
        # No .pyc: they would be compiled by this interpreter, useless on another version.
        "--no-compile", *reqs,
    ]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise PackagingError(f"pip could not install the dependencies for {PLATFORM} / CPython {PYTHON_VERSION}:\n{tail}")
    # Console scripts carry this machine's interpreter in their shebang: useless on FC.
    shutil.rmtree(target / "bin", ignore_errors=True)
    for name in LEFT_OUT:
        for path in target.glob(f"{name}*"):  # the package and its .dist-info
            if path.name == name or path.name.startswith(f"{name}-"):
                shutil.rmtree(path)


def deployed_python() -> Optional[str]:
    """A CPython of the deployed version (3.12) to compile with: pyenv's, else one on PATH."""
    import glob

    major, minor = PYTHON_VERSION.split(".")
    name = f"python{PYTHON_VERSION}"
    for candidate in sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{PYTHON_VERSION}*/bin/{name}"))) + [name]:
        try:
            probe = subprocess.run([candidate, "-c", f"import sys; assert sys.version_info[:2] == ({major}, {minor})"],
                                   capture_output=True)
        except OSError:
            continue
        if probe.returncode == 0:
            return candidate
    return None


def precompile(package: Path) -> None:
    """Compile every module to the deployed version's bytecode in advance. FC's code directory is read-only, so
    Python could never cache what it compiles there: without this, every cold start compiles
    pydantic, requests, flask and vodai from source (measured: bootstrap to first answer 1.45x the
    official-SDK handler's cold start without, about 0.6x with).

    Reproducible: ``unchecked-hash`` pyc files do not depend on file dates, the paths recorded in
    them are rewritten to FC's ``/code`` whatever folder builds the package, and one process with a
    fixed hash seed keeps the marshalled bytes identical from build to build."""
    python = deployed_python()
    if python is None:
        raise PackagingError(f"no CPython {PYTHON_VERSION} to precompile the package with (FC runs {PYTHON_VERSION})")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
         "-s", str(package), "-p", "/code", str(package)],
        capture_output=True, text=True, env=env,
    )
    if proc.returncode != 0:
        raise PackagingError(f"compileall failed: {(proc.stdout + proc.stderr)[-2000:]}")


def _files(root: Path) -> Iterator[Path]:
    # The package's own __pycache__ holds the precompiled bytecode: it is shipped.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP or d == "__pycache__"]
        for name in filenames:
            yield Path(dirpath) / name


def write_zip(src: Path, zip_path: Path) -> None:
    """Zip ``src``'s files: sorted, fixed dates, 755 for executables (bootstrap) and 644 otherwise."""
    entries = sorted((p.relative_to(src).as_posix(), p) for p in _files(src))
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so unzip and FC honour the mode bits below
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(zip_path)


def build_package(root: Path, out: Path) -> PackageResult:
    """Build ``out/package`` and ``out/vodai.zip`` from the repository at ``root``."""
    root, out = Path(root).resolve(), Path(out).resolve()
    package = out / "package"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)

    shutil.copy2(root / "bootstrap", package / "bootstrap")
    os.chmod(package / "bootstrap", 0o755)
    _copy_tree(root / "functions", package / "functions")
    _copy_tree(root / "shared" / "vodai", package / "vodai")
    install_dependencies(requirements(root / "pyproject.toml"), package / "python")
    precompile(package)

    zip_path = out / "vodai.zip"
    write_zip(package, zip_path)
    files = list(_files(package))
    return PackageResult(package, zip_path, len(files), sum(f.stat().st_size for f in files), zip_path.stat().st_size)


def main(argv: Optional[Sequence[str]] = None) -> int:
    default_root = Path(__file__).resolve().parents[2]  # shared/vodai/packaging.py -> repository
    parser = argparse.ArgumentParser(prog="python -m vodai.packaging", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_root, help="the repository (default: this checkout)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <root>/build)")
    args = parser.parse_args(argv)
    try:
        result = build_package(args.root, args.out or args.root / "build")
    except PackagingError as exc:
        print(f"vodai package: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
