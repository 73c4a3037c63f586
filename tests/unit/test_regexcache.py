"""vodai.regexcache: patterns compiled by an earlier process serve a later one's ``re.compile``.

Every case runs in a fresh interpreter (``re._cache`` is per process), on this Python and, where
there is one, on a Python 3.10 (FC's). The oracle is CPython's own compiler: a pattern from the
cache must equal (same code, flags, pattern) and match like the one ``re`` compiles now.
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Patterns of every shape the cache must rebuild: str and bytes, flags passed and inline, named
# groups, Unicode classes, a possessive-free backtracking one, urllib3's IPv6 address pattern.
PATTERNS = [
    (r"^(?P<scheme>[a-z]+)://(?P<host>[^/:]+)(?::(?P<port>\d+))?", 0),
    (r"(?i)content-type:\s*(\S+)", 0),
    (r"\bvideo\b", "re.IGNORECASE"),
    (r"""
        (?P<key>\w+)   # a key
        =
        (?P<value>.*)  # its value
     """, "re.VERBOSE"),
    (r"[\u4e00-\u9fff]+", 0),
    (rb"\x00[\x01-\x7f]{2,}", 0),
    (r"^(?:(?:[0-9A-Fa-f]{1,4}:){6}(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})"
     r"|::(?:[0-9A-Fa-f]{1,4}:){5}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4})?::)$", 0),
    (r"(a|b)*?c(?(1)d|e)", 0),
]
SUBJECTS = ["https://vod.cn-shanghai.aliyuncs.com:443/x", "Content-Type: application/json", "a VIDEO b",
            "  Key=value here", "点播视频", "fe80::1", "::", "abacd", "ce"]

MODULE = """
import re
{lines}
"""

# Run in the child: import MODULE inside precompiled(), report how many patterns were compiled
# inside the block, and compare every pattern with a fresh compile after re.purge().
PROBE = r"""
import importlib.util, json, re, sys
import vodai.regexcache as rc
try:
    from re import _compiler as comp
except ImportError:
    import sre_compile as comp
compiled = []
original = comp.compile
def counting(p, flags=0):
    compiled.append(p)
    return original(p, flags)
comp.compile = counting
path = sys.argv[1]
with rc.precompiled(path):
    spec = importlib.util.spec_from_file_location("mod", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
comp.compile = original
served = [p for p in mod.ALL]
re.purge()
fresh = [re.compile(text, flags) for text, flags in mod.ASKED]  # what re compiles now, as asked
subjects = json.loads(sys.argv[2])
same = all(a == b and a.groupindex == b.groupindex and a.groups == b.groups for a, b in zip(served, fresh))
matches = [[repr(p.search(s.encode() if isinstance(p.pattern, bytes) else s)) ==
            repr(q.search(s.encode() if isinstance(q.pattern, bytes) else s)) for s in subjects]
           for p, q in zip(served, fresh)]
print(json.dumps({"compiled": len(compiled), "same": same, "matches": all(all(m) for m in matches),
                  "n": len(served)}))
"""


def _python310():
    """FC's Python: make test's .venv310 (it has the dependencies the handler test imports)."""
    for python in (os.environ.get("VODAI_TEST_PY310"), str(ROOT / ".venv310" / "bin" / "python")):
        if python and Path(python).exists():
            return python
    return None


@pytest.fixture(params=["this-python", "python3.10"])
def python(request) -> str:
    if request.param == "this-python":
        return sys.executable
    python = _python310()
    if python is None:
        message = "no Python 3.10 venv (make test builds .venv310 with the runtime dependencies)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


def _module(folder: Path, patterns=PATTERNS) -> Path:
    lines = []
    for i, (pattern, flags) in enumerate(patterns):
        lines.append(f"P{i} = re.compile({pattern!r}, {flags})")
    lines.append("ALL = [" + ", ".join(f"P{i}" for i in range(len(patterns))) + "]")
    lines.append("ASKED = [" + ", ".join(f"({p!r}, {f})" for p, f in patterns) + "]")  # as re.compile was called
    path = folder / "index.py"
    path.write_text(MODULE.format(lines="\n".join(lines)))
    return path


def _run(python: str, module: Path, *, env_extra=None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT / "shared")
    env.update(env_extra or {})
    proc = subprocess.run([python, "-c", PROBE, str(module), json.dumps(SUBJECTS)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cache_of(python: str, module: Path) -> Path:
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return module.parent / "__pycache__" / f"index.{tag}.regexes"


def test_a_second_process_compiles_nothing_and_gets_equal_patterns(python, tmp_path):
    module = _module(tmp_path)
    first = _run(python, module)
    assert first["compiled"] == len(PATTERNS) and first["same"] and first["matches"]
    assert _cache_of(python, module).is_file()
    second = _run(python, module)
    assert second == {"compiled": 0, "same": True, "matches": True, "n": len(PATTERNS)}


def test_a_new_pattern_is_compiled_and_added_the_old_ones_kept(python, tmp_path):
    module = _module(tmp_path, PATTERNS[:3])
    _run(python, module)
    _module(tmp_path, PATTERNS)  # the module changed: five more patterns
    grown = _run(python, module)
    assert grown["compiled"] == len(PATTERNS) - 3 and grown["same"]
    assert _run(python, module)["compiled"] == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-interpreter", "bad-code", "bad-shape"])
def test_a_damaged_or_foreign_cache_is_no_cache_and_is_rewritten(python, tmp_path, damage):
    module = _module(tmp_path)
    _run(python, module)
    cache = _cache_of(python, module)
    stamp, entries = marshal.loads(cache.read_bytes())
    if damage == "garbage":
        cache.write_bytes(b"\x00not marshal\xff" * 10)
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:200])
    elif damage == "other-interpreter":
        cache.write_bytes(marshal.dumps(((stamp[0], "cpython-99", *stamp[2:]), entries)))
    elif damage == "bad-code":  # valid marshal, code the engine refuses: _sre.compile validates it
        broken = [(e[0], e[1], e[2], [17] * len(e[3]), *e[4:]) for e in entries]
        cache.write_bytes(marshal.dumps((stamp, broken)))
    else:
        cache.write_bytes(marshal.dumps((stamp, [("x",), 3, None])))
    result = _run(python, module)
    assert result["same"] and result["matches"] and result["compiled"] == len(PATTERNS)
    assert _run(python, module)["compiled"] == 0  # rewritten whole


def test_nothing_is_written_when_bytecode_writing_is_off(python, tmp_path):
    module = _module(tmp_path)
    result = _run(python, module, env_extra={"PYTHONDONTWRITEBYTECODE": "1"})
    assert result["compiled"] == len(PATTERNS)
    assert not (tmp_path / "__pycache__").exists()


def test_a_folder_it_cannot_write_to_is_no_error(python, tmp_path):
    module = _module(tmp_path)
    (tmp_path / "__pycache__").write_text("a file where the folder would be")  # even root cannot write
    for _ in range(2):
        assert _run(python, module)["compiled"] == len(PATTERNS)


def test_the_handlers_imports_compile_no_regex_from_a_warm_cache(python, tmp_path):
    """The point of it: with its cache written, a cold start of on_upload compiles no regular
    expression while importing (those of vodai/__init__'s warnings filter come before the block)."""
    import shutil

    copy = tmp_path / "on_upload"
    shutil.copytree(ROOT / "functions" / "on_upload", copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = r"""
import sys, vodai
try:
    from re import _compiler as comp
except ImportError:
    import sre_compile as comp
compiled = []
original = comp.compile
comp.compile = lambda p, flags=0: (compiled.append(p), original(p, flags))[1]
import importlib.util, re
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
comp.compile = original
# Every pattern re now holds, served or compiled, equals what this interpreter's compiler makes of it.
different = [key[1] for key, p in list(re._cache.items()) if original(key[1], key[2]) != p]
assert not different, different[:3]
print(len(compiled), len(re._cache))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONDONTWRITEBYTECODE", "VODAI_"))}
    env["PYTHONPATH"] = str(ROOT / "shared")
    counts = []
    for _ in range(2):
        proc = subprocess.run([python, "-c", script, str(copy / "index.py")], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        counts.append(int(proc.stdout.split()[0]))
    assert counts[0] > 50  # requests, urllib3, http.cookiejar, vodai: about a hundred
    assert counts[1] == 0


def test_build_writes_the_cache_of_a_handler_file_from_nothing(python, tmp_path):
    module = _module(tmp_path)
    cache = _cache_of(python, module)
    cache.parent.mkdir()
    cache.write_bytes(b"stale")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT / "shared")
    proc = subprocess.run([python, "-B", "-c", "import sys, vodai.regexcache as r; print(r.build(sys.argv[1]))",
                           str(module)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == cache
    stamp, entries = marshal.loads(cache.read_bytes())
    assert {e[0] for e in entries} >= {p for p, _ in PATTERNS}
    assert _run(python, module)["compiled"] == 0


def test_no_secret_of_the_environment_reaches_the_handlers_cache(python, tmp_path):
    """The cache holds the imports' own patterns: settings and secrets are read at the first event,
    never compiled into a pattern while importing, so none can land in a file that ships."""
    import shutil

    copy = tmp_path / "on_upload"
    shutil.copytree(ROOT / "functions" / "on_upload", copy, ignore=shutil.ignore_patterns("__pycache__"))
    secrets = {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sEcReT-ak-0123456789", "ALIBABA_CLOUD_SECURITY_TOKEN": "sTs-ToKeN-987",
               "VODAI_CALLBACK_AUTH_KEY": "cAlLbAcK-kEy-555", "VODAI_IDEMPOTENCY_STORE": "redis://:pA55w0rd@127.0.0.1:1/0"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONDONTWRITEBYTECODE", "VODAI_"))}
    env.update(secrets, PYTHONPATH=str(ROOT / "shared"))
    proc = subprocess.run([python, "-c", "import importlib.util, sys; s = importlib.util.spec_from_file_location('index', "
                           "sys.argv[1]); s.loader.exec_module(importlib.util.module_from_spec(s))", str(copy / "index.py")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    data = _cache_of(python, copy / "index.py").read_bytes()
    assert len(data) > 10_000
    for value in ("sEcReT-ak-0123456789", "sTs-ToKeN-987", "cAlLbAcK-kEy-555", "pA55w0rd"):
        assert value.encode() not in data


def test_a_pattern_marshal_cannot_write_is_left_out_and_the_import_goes_on(python, tmp_path):
    """A str subclass as a pattern, flags of another IntFlag: re caches them, marshal cannot write
    them back as they were. Leaving the block must not fail the import over its cache."""
    module = tmp_path / "index.py"
    module.write_text("import enum, re\n"
                      "class Text(str): pass\n"
                      "class Flag(enum.IntFlag):\n    I = re.IGNORECASE.value\n"
                      "P0 = re.compile(Text('odd+'))\nP1 = re.compile('flagged', Flag.I)\n"
                      "P2 = re.compile('plain[0-9]+')\n"
                      "ALL = [P0, P1, P2]\nASKED = [('odd+', 0), ('flagged', re.IGNORECASE), ('plain[0-9]+', 0)]\n")
    first = _run(python, module)
    assert first["same"] and first["matches"]
    assert not list(tmp_path.glob("__pycache__/*.tmp"))
    second = _run(python, module)
    assert second["compiled"] <= 2 and second["same"]  # the plain one comes from the cache


class _EvictedWhileRead(dict):
    """re._cache as another thread leaves it: a key still listed is gone when it is read."""

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        raise KeyError(key)


def test_a_cache_that_fails_while_being_written_leaves_no_file_and_no_open_descriptor(tmp_path, monkeypatch):
    # In this process: what is checked is save's own clean-up, not a cold start.
    from vodai import regexcache as rc

    monkeypatch.setattr(rc.re, "_cache", _EvictedWhileRead())
    target = tmp_path / "cache" / "index.cpython-311.regexes"
    open_before = sorted(os.listdir("/proc/self/fd"))
    assert rc.save(str(target), [(str, "a+", 0)], {}) is False
    assert sorted(os.listdir("/proc/self/fd")) == open_before
    assert os.listdir(target.parent) == []  # neither the cache nor its temporary file
