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

VOD's own part: ``server.upload("video", "cn-shanghai")``, ``server.set_callback(...)``,
``server.add_trigger(...)``, ``server.set_lifecycle(...)``, ``server.wait_deliveries()``,
``server.deliveries()``, ``server.state()`` / ``server.load_state(...)``, ``server.advance(s)``.

:class:`Receiver` is a tiny HTTP server that records every request and answers from a script
(status, headers, delay per request): the other end of a VOD callback or a topic trigger.
:func:`serve_process` runs ``vodai serve`` (the FC custom-runtime shim) as a process.
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

import requests
from requests.structures import CaseInsensitiveDict

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

    # -- VOD's own part ----------------------------------------------------------------------

    def upload(self, media_type: str, region: str, **fields: Any) -> dict:
        """An upload finished (``media_id``, ``extend``, ``file_name``, ``size``)."""
        return self.control("uploads", method="POST", json={"media_type": media_type, "region": region, **fields})

    def set_callback(self, region: Optional[str] = None, **setting: Any) -> dict:
        """``url=..., auth_key=...`` or ``mns="queue:NAME"``; ``region`` None = every region."""
        return self.control("callback", method="PUT", json={"region": region, **setting})

    def add_trigger(self, spec: Any) -> list:
        """A ``TOPIC=URL[,format=JSON]`` spec or a dict."""
        return self.control("triggers", method="POST", json=spec)

    def set_lifecycle(self, *specs: Any) -> list:
        return self.control("lifecycle", method="PUT", json=list(specs))

    def settings(self, **changes: Any) -> dict:
        return self.control("settings", method="PUT", json=changes) if changes else self.control("settings")

    def wait_deliveries(self, timeout: float = 30) -> None:
        answer = self.control("deliveries/wait", method="POST", json={"timeout": timeout})
        assert answer["idle"], f"deliveries still pending: {answer}"

    def deliveries(self) -> list[dict]:
        return self.control("deliveries")

    def state(self) -> dict:
        return self.control("state")

    def load_state(self, state: dict) -> dict:
        return self.control("state", method="PUT", json=state)

    def advance(self, seconds: float) -> dict:
        return self.control("advance", method="POST", json={"seconds": seconds})

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


# -- the other end of a delivery ----------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: CaseInsensitiveDict
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before answering (a slow receiver)
    block: Optional[threading.Event] = None  # answer only once this is set


class Receiver:
    """A tiny threaded HTTP server: records every request, answers from ``script`` (one
    :class:`Answer` per request, in order), then with ``default``.

        with Receiver([Answer(500), Answer(500)]) as receiver:   # fails twice, then 200
            ...
            receiver.wait_for(3)
    """

    def __init__(self, script: Sequence[Answer] = (), default: Optional[Answer] = None) -> None:
        self._script = list(script)
        self._default = default or Answer()
        self._lock = threading.Condition()
        self.requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.command, self.path, CaseInsensitiveDict(dict(self.headers)), body)
                    )
                    answer = receiver._script.pop(0) if receiver._script else receiver._default
                    receiver._lock.notify_all()
                if answer.block is not None:
                    answer.block.wait(30)
                if answer.delay:
                    time.sleep(answer.delay)
                body = b"" if answer.status in (204, 304) else answer.body  # no body allowed
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    if answer.status not in (204, 304):
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            do_POST = do_PUT = do_GET = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """The first ``count`` requests, once they arrived (AssertionError after ``timeout``)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")
            return list(self.requests[:count])


# -- vodai serve (the FC custom-runtime shim) as a process ------------------------------------------


@dataclass
class ServeProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8")


@contextlib.contextmanager
def serve_process(function: str, env: Mapping[str, str], startup_timeout: float = 60.0) -> Iterator[ServeProcess]:
    """``vodai serve --function FUNCTION --port 0`` with exactly ``env`` (plus PATH), until exit."""
    command = [sys.executable, "-c", _CLI, "serve", "--function", function, "--port", "0"]
    full_env = {"PATH": os.environ.get("PATH", ""), **env}
    with tempfile.TemporaryDirectory(prefix="vodai-serve-") as tmp:
        log_path = Path(tmp) / "output.log"
        with open(log_path, "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=full_env)
        try:
            deadline = time.monotonic() + startup_timeout
            url = None
            while url is None:
                for line in log_path.read_text(encoding="utf-8").splitlines():
                    if " listening on " in line:
                        url = line.rsplit(" listening on ", 1)[1].strip().replace("0.0.0.0", "127.0.0.1")
                if url is None:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"vodai serve did not start:\n{log_path.read_text(encoding='utf-8')}")
                    time.sleep(0.05)
            yield ServeProcess(url, process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
