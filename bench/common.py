"""What every benchmark shares: statistics, the emulator server process, events, interpreters.

Nothing here imports vodai: the benchmark driver stays light and each measured process
imports only what it measures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PY311 = ROOT / ".venv" / "bin" / "python"
PY312 = ROOT / ".venv312" / "bin" / "python"
# The official SDKs on Python 3.12, for the baseline of the 3.12 rows (bench only; make bench builds it).
PY312_SDK = ROOT / ".venv312-sdk" / "bin" / "python"


def bench_python() -> Path:
    """The Python the warm and replay benchmarks run vodai on: FC's 3.12 when its venv is there."""
    return PY312 if PY312.exists() else PY311


def sdk312_ready() -> bool:
    """The SDKs on 3.12 are installed (make bench's marker, not just a venv) and vodai's 3.12 venv is there."""
    return (PY312_SDK.parent.parent / ".installed").exists() and PY312_SDK.exists() and PY312.exists()

# One-off STS credentials the emulator accepts; nothing secret about them.
AK, SECRET, TOKEN = "STS.bench", "bench-secret-value", "bench-sts-token"
TOPIC = "vodai-callback"
TEMPLATE = "tpl-bench"
ACCOUNT = "1234567890123456"

_READY_PREFIX = "vodai emulator listening on "


# -- statistics -------------------------------------------------------------------------------

def summary(values: Sequence[float], digits: int = 3) -> Dict[str, float]:
    """median, IQR (q1, q3), min, max and n of ``values``."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return {"n": 0}
    if len(vals) >= 2:
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    else:
        q1 = q3 = vals[0]
    r = lambda v: round(v, digits)  # noqa: E731
    return {"median": r(statistics.median(vals)), "q1": r(q1), "q3": r(q3),
            "min": r(vals[0]), "max": r(vals[-1]), "n": len(vals)}


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def ratio(values: Sequence[float], baseline: Sequence[float]) -> Dict[str, float]:
    """Ratio of medians, plus the spread of the paired per-round ratios (same round, alternated)."""
    med = statistics.median(values) / statistics.median(baseline)
    paired = [a / b for a, b in zip(values, baseline) if b]
    out = {"ratio": round(med, 3)}
    if paired:
        s = summary(paired)
        out.update(paired_median=s["median"], paired_q1=s["q1"], paired_q3=s["q3"])
    return out


# -- machine --------------------------------------------------------------------------------

def python_version(python: Path) -> Optional[str]:
    if not Path(python).exists():
        return None
    out = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True)
    return out.stdout.strip() or None


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python311": python_version(PY311), "python312": python_version(PY312)}


def tree_state() -> dict:
    """The commit measured, and the files of shared/ and functions/ changed on top of it."""
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", "shared", "functions", "bootstrap").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed": changed}


# -- processes ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_hwm_kb(pid: int) -> int:
    """A running process's peak RSS (``VmHWM``, KiB) from /proc; 0 where there is none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_rusage(proc: subprocess.Popen) -> int:
    """Reap ``proc`` with wait4: its peak RSS in KiB (ru_maxrss); sets its returncode."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss


@dataclass
class EmulatorServer:
    url: str
    port: int
    process: subprocess.Popen

    def control(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def topic_count(self, topic: str = TOPIC) -> int:
        return len(self.control(f"topics/{topic}/messages"))


@contextlib.contextmanager
def emulator_server(python: Path = PY311, *, latency_ms: float = 0.0, extra_args: Sequence[str] = (),
                    startup_timeout: float = 30.0) -> Iterator[EmulatorServer]:
    """``vodai emulator`` as a server process on a free port (it binds port 0 and prints its URL);
    ``latency_ms``: its ``--latency-ms``, a fixed delay before every VOD and MNS answer;
    ``extra_args``: more of its options (``--lifecycle``, ``--queue``...)."""
    env = dict(os.environ, ALIBABA_CLOUD_ACCESS_KEY_ID=AK, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET,
               ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN)
    command = [str(python), "-c", "from vodai.cli import main; main()", "emulator", "--host", "127.0.0.1",
               "--port", "0", "--topic", TOPIC,
               "--latency-ms", str(latency_ms), *extra_args]
    # Its per-request log lines are not wanted: they would only cost the server a write each.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, env=env, text=True)
    try:
        lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=startup_timeout)
        except queue.Empty:
            line = ""
        if not line.startswith(_READY_PREFIX):
            raise RuntimeError(f"vodai emulator did not start (exit {process.poll()}): {line!r}")
        url = line[len(_READY_PREFIX):].strip()
        server = EmulatorServer(url, int(url.rsplit(":", 1)[1]), process)
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                server.control("jobs")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process``, kill it if it does not exit within 10 s, and close its stdout."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextlib.contextmanager
def redis_server() -> Iterator[Optional[str]]:
    """A throwaway ``redis-server`` (no persistence) on a free port; yields its URL, or None
    when the machine has no redis-server."""
    binary = shutil.which("redis-server")
    if not binary:
        yield None
        return
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- events -----------------------------------------------------------------------------------

def video_event(n: int, *, tag: str = "bench") -> bytes:
    """A FileUploadComplete for a unique video in cn-shanghai, as an FC MNS topic trigger
    (JSON format) delivers it: the shape of ``events/mns-topic-json/video-cn-shanghai.json``,
    with its own VideoId and MessageId (so no delivery is a duplicate of another)."""
    video_id = f"{tag}{n:08d}".ljust(32, "0")[:32]
    host = "outin-882470878c5ad41762a2e24004c6c657.oss-cn-shanghai.aliyuncs.com"
    body = {"Status": "success", "EventTime": "2024-04-10T01:37:14Z", "EventType": "FileUploadComplete",
            "VideoId": video_id, "Size": 2352911, "FileUrl": f"http://{host}/sv/{video_id}/{video_id}.mp4",
            "Extend": json.dumps({"source": "vodai-bench"}, separators=(",", ":"))}
    envelope = {"TopicOwner": ACCOUNT, "Message": json.dumps(body, separators=(",", ":")), "Subscriber": ACCOUNT,
                "PublishTime": 1712713035123, "SubscriptionName": "vodai-fc",
                "MessageMD5": "8510F34C01A46ABE5F28456EE341BAD9", "TopicName": "vod-events",
                "MessageId": f"{n:032X}"}
    return json.dumps(envelope, indent=2).encode()


def write_jsonl(path: Path, count: int, *, tag: str) -> Path:
    """``count`` events, one compact JSON line each (what ``vodai replay`` reads)."""
    with open(path, "wb") as f:
        for n in range(count):
            f.write(json.dumps(json.loads(video_event(n, tag=tag)), separators=(",", ":")).encode() + b"\n")
    return path


def handler_env(server_url: str, *, store: str = "memory://", tmp: Optional[Path] = None) -> Dict[str, str]:
    """The environment every measured handler runs with: vodai's settings (the baselines read
    the same variables), no ALIBABA_CLOUD_* (credentials come from the context, as on FC 2.0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "VODAI_", "PYTHON"))}
    env.update({
        "VODAI_VOD_ENDPOINT": server_url,
        "VODAI_MNS_ENDPOINT": server_url,
        "VODAI_AI_TEMPLATE_ID": TEMPLATE,
        "VODAI_CALLBACK_TOPIC": TOPIC,
        "VODAI_IDEMPOTENCY_STORE": store,
        "VODAI_DEAD_LETTERS": str((tmp or Path(tempfile.gettempdir())) / "dead-letters"),
    })
    return env


def replay_env(server_url: str, *, store: str, tmp: Path) -> Dict[str, str]:
    """What a replay worker runs with: the handler's settings, and credentials in the environment
    (``vodai replay --cloud`` takes them from the standard chain, not from an FC context)."""
    return dict(handler_env(server_url, store=store, tmp=tmp), ALIBABA_CLOUD_ACCESS_KEY_ID=AK,
                ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET, ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN, VODAI_REGION="cn-shanghai")


def fmt_ms(v: float) -> str:
    return f"{v:,.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def spread(s: Dict[str, float], unit_fmt=fmt_ms) -> str:
    """``median (q1–q3)`` for a table cell."""
    if not s or not s.get("n"):
        return "–"
    return f"{unit_fmt(s['median'])} ({unit_fmt(s['q1'])}–{unit_fmt(s['q3'])})"


def ensure_results_dir() -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def check_python(paths: List[Path]) -> None:
    for p in paths:
        if not Path(p).exists():
            raise SystemExit(f"bench: {p} is missing (make install / make test build the venvs)")
