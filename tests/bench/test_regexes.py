"""bench/regexes.py counts the regular expressions a handler's import compiles, by module: with
vodai.regexcache ignored it finds urllib3's and the standard library's; with a warm cache, none past
the two vodai/__init__ compiles before the cache is opened."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow]


def _run(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VODAI_")}
    proc = subprocess.run([sys.executable, "-m", "bench.regexes", "--python", "3.11", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _count(out: str) -> int:
    found = re.search(r"(\d+) regular expressions compiled", out)
    assert found, out
    return int(found.group(1))


def test_without_the_cache_the_dependencies_compile_dozens_and_with_it_none():
    uncached = _run("--no-cache")
    assert _count(uncached) > 50
    assert "urllib3/util/url.py" in uncached and "http/cookiejar.py" in uncached
    _run()  # writes the cache if this checkout has none yet (as a .pyc is written)
    assert _count(_run()) <= 2, "only vodai/__init__'s warnings filter, before the cache is opened"
