"""The shim as a real process (``vodai serve`` or the packaged ``bootstrap``), driven over HTTP as FC does.

The process prints ``... listening on http://H:P`` on stdout once bound; stdout and stderr go to
files (read without racing the writer), so a chatty process never blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

import requests

SERVE = [sys.executable, "-c", "from vodai.cli import main; main()", "serve"]


@dataclass
class ShimProcess:
    url: str
    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    def invoke(self, body: bytes, headers: Mapping[str, str]) -> requests.Response:
        """``POST /invoke`` exactly as FC sends it: raw bytes, application/octet-stream."""
        headers = {"Content-Type": "application/octet-stream", **headers}
        return requests.post(f"{self.url}/invoke", data=body, headers=headers, timeout=60)

    def output(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8") + self.stderr_path.read_text(encoding="utf-8")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8")


def clean_env(extra: Mapping[str, str]) -> dict:
    """This environment without any ALIBABA_CLOUD_* or VODAI_* (credentials must come from the
    x-fc-* headers, settings from ``extra``), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "VODAI_"))}
    env.update(extra)
    return env


@contextlib.contextmanager
def shim_process(
    command: Sequence[str],
    env: Mapping[str, str],
    ready_marker: str,
    cwd: Optional[Path] = None,
    startup_timeout: float = 60.0,
) -> Iterator[ShimProcess]:
    with tempfile.TemporaryDirectory(prefix="vodai-shim-") as tmp:
        stdout_path, stderr_path = Path(tmp) / "stdout.log", Path(tmp) / "stderr.log"
        with open(stdout_path, "ab") as out, open(stderr_path, "ab") as err:
            process = subprocess.Popen(list(command), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                       env=dict(env), cwd=cwd)
        try:
            url = _wait_for_url(process, stdout_path, stderr_path, ready_marker, startup_timeout)
            yield ShimProcess(url, process, stdout_path, stderr_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_url(process, stdout_path: Path, stderr_path: Path, marker: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        for line in stdout_path.read_text(encoding="utf-8").splitlines():
            if marker in line and " listening on " in line:
                # The shim binds 0.0.0.0 on FC; connect through loopback.
                return line.rsplit(" listening on ", 1)[1].strip().replace("0.0.0.0", "127.0.0.1")
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{marker!r} did not start (exit code {process.poll()}):\n"
                               + stdout_path.read_text(encoding="utf-8") + stderr_path.read_text(encoding="utf-8"))
        time.sleep(0.05)
