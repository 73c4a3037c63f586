"""Real server processes for end-to-end tests.

``emulator_server(...)`` starts ``vodai emulator`` as a subprocess on a free port (the
emulator binds port 0 and prints the URL it got, so there is no port race), waits until it
answers, yields an :class:`EmulatorServer`, and stops it on exit. Secrets travel through the
child's environment, never its command line.

    with emulator_server("ak", "secret") as server:
        client = make_client(endpoint=f"127.0.0.1:{server.port}")
        ...
        assert server.topic_messages("vodai-callback")

Faults: ``emulator_server(..., faults=["SubmitAIImageJob:lost,times=1"], seed=7)`` starts the
server with them (``--fault``/``--seed``); ``server.set_faults([...])`` replaces the rules of a
running server (specs, dicts or FaultRule objects), ``server.clear_faults()`` removes them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import requests

_READY_PREFIX = "vodai emulator listening on "
_CLI = "from vodai.cli import main; main()"


@dataclass
class EmulatorServer:
    url: str
    port: int
    process: subprocess.Popen
    stderr_path: Path

    def control(self, path: str, method: str = "GET", json: Any = None) -> Any:
        """JSON from the emulator's control API, e.g. ``control("jobs")``."""
        response = requests.request(method, f"{self.url}/_emulator/{path}", json=json, timeout=10)
        response.raise_for_status()
        return response.json()

    def topic_messages(self, topic: str) -> list[dict]:
        return self.control(f"topics/{topic}/messages")

    def queue_messages(self, queue: str) -> list[dict]:
        return self.control(f"queues/{queue}/messages")

    def faults(self) -> list[dict]:
        """The fault rules, each with its ``spec`` and how often it has ``fired``."""
        return self.control("faults")

    def add_faults(self, rules: Iterable[Any]) -> list[dict]:
        """Append rules: spec strings, dicts or ``FaultRule`` objects."""
        payload = [rule.to_dict() if hasattr(rule, "to_dict") else rule for rule in rules]
        return self.control("faults", method="POST", json=payload)

    def set_faults(self, rules: Iterable[Any]) -> list[dict]:
        """Replace every fault rule with ``rules``."""
        self.clear_faults()
        return self.add_faults(rules)

    def clear_faults(self) -> None:
        self.control("faults", method="DELETE")

    def seed(self, seed: int) -> None:
        """Restart the fault probability draws from ``seed``."""
        self.control("seed", method="POST", json={"seed": seed})

    def jobs(self) -> list[dict]:
        return self.control("jobs")

    def requests_log(self) -> list[dict]:
        return self.control("requests")

    def reset(self) -> None:
        self.control("reset", method="POST")

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far (its request log lines)."""
        return self.stderr_path.read_text(encoding="utf-8")


@contextlib.contextmanager
def emulator_server(
    access_key_id: str,
    access_key_secret: str,
    security_token: Optional[str] = None,
    topics: Sequence[str] = ("vodai-callback",),
    region: str = "cn-shanghai",
    startup_timeout: float = 30.0,
    *,
    queues: Sequence[str] = (),
    faults: Sequence[str] = (),
    seed: Optional[int] = None,
    extra_args: Sequence[str] = (),
) -> Iterator[EmulatorServer]:
    env = dict(os.environ)
    env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = access_key_id
    env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = access_key_secret
    env.pop("ALIBABA_CLOUD_SECURITY_TOKEN", None)
    if security_token:
        env["ALIBABA_CLOUD_SECURITY_TOKEN"] = security_token
    command = [sys.executable, "-c", _CLI, "emulator", "--host", "127.0.0.1", "--port", "0"]
    command += ["--region", region]
    for topic in topics:
        command += ["--topic", topic]
    for queue in queues:
        command += ["--queue", queue]
    for spec in faults:
        command += ["--fault", spec]
    if seed is not None:
        command += ["--seed", str(seed)]
    command += list(extra_args)

    with tempfile.TemporaryDirectory(prefix="vodai-emulator-") as tmp:
        stderr_path = Path(tmp) / "stderr.log"
        # Append mode: the child's writes never race with our reads of the same file.
        with open(stderr_path, "ab") as stderr:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env=env,
                text=True,
                encoding="utf-8",
            )
        try:
            url = _wait_for_url(process, stderr_path, startup_timeout)
            server = EmulatorServer(url, int(url.rsplit(":", 1)[1]), process, stderr_path)
            _wait_until_answering(server, startup_timeout)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _wait_for_url(process: subprocess.Popen, stderr_path: Path, timeout: float) -> str:
    """The URL from the server's first stdout line; a reader thread keeps this bounded."""
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(
        target=lambda: lines.put(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    ).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        line = ""
    if not line.startswith(_READY_PREFIX):
        raise RuntimeError(
            f"vodai emulator did not start (exit code {process.poll()}): {line!r}\n"
            + stderr_path.read_text(encoding="utf-8")
        )
    return line[len(_READY_PREFIX):].strip()


def _wait_until_answering(server: EmulatorServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.control("jobs")
            return
        except requests.RequestException:
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise
            time.sleep(0.05)
