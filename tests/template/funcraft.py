"""Running Funcraft's offline validator, ``fun validate``, so that its verdict can be trusted.

Traps (seen with @alicloud/fun 3.6.24):

* ``fun validate -t <missing file>`` prints "Can't find template file at ..." and exits **0**; a
  valid template prints nothing. So a template is valid only when the exit code is 0 **and** the
  output (stdout and stderr) is empty. Errors go to stdout, with exit code 255.
* ``IGNORE_TPL_VALIDATION=1`` turns validation off: it is removed from the environment.
* ``fun`` may print an update notice (``FUN_DISABLE_VERSION_CHECK`` turns that off), and it reads
  ``~/.fcli`` and sends usage statistics from CI machines: it runs with a throw-away HOME and
  without the CI markers in its environment.
* It does not look at ``CodeUri`` at all: a missing build/package is no error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from .rosyaml import ROOT

LOCAL_FUN = ROOT / "node_modules" / ".bin" / "fun"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DROP = ("IGNORE_TPL_VALIDATION", "CI", "CONTINUOUS_INTEGRATION", "BUILD_NUMBER", "RUN_ID")


def find_fun() -> Optional[str]:
    """``node_modules/.bin/fun`` (``npm ci`` at the repo root), else ``fun`` on PATH."""
    if LOCAL_FUN.exists() and os.access(LOCAL_FUN, os.X_OK):
        return str(LOCAL_FUN)
    return shutil.which("fun")


def require_fun() -> str:
    path = find_fun()
    if path:
        return path
    message = ("Funcraft's `fun` is not installed: run `npm ci --ignore-scripts` at the repo root "
               "(package.json pins @alicloud/fun; .ci/run does this)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Verdict:
    returncode: int
    output: str  # stdout + stderr, colours removed

    @property
    def valid(self) -> bool:
        return self.returncode == 0 and self.output.strip() == ""


def validate(fun: str, template: Path, home: Path, timeout: float = 180) -> Verdict:
    """``fun validate -t <template>`` from the template's folder (if any), in a clean environment."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("FUN_")}
    env.update(HOME=str(home), FUN_DISABLE_VERSION_CHECK="1", NO_UPDATE_NOTIFIER="1", NO_COLOR="1")
    proc = subprocess.run(
        [fun, "validate", "-t", str(template)],
        cwd=str(template.parent if template.parent.is_dir() else home), env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )
    return Verdict(proc.returncode, _ANSI.sub("", proc.stdout + proc.stderr))
