"""``vodai demo-upload``: watch "triggered automatically on upload" happen on this machine.

Every piece is a real process talking HTTP, wired as template.yml wires them in the cloud:

    vodai emulator (VOD + MNS) --signed HTTP callback--> vod_callback (shim)
        --> topic vodai-events --trigger (STREAM)--> on_upload (shim) --> SubmitAIImageJob / ...AuditJob
        --> JobId message on vodai-callback;  track_jobs (shim, "timer" every second) polls the job,
        and an audit job's AIMediaAuditComplete event comes back through the callback
        --> one completion message on vodai-callback.

A video is uploaded in cn-shanghai and an image in ap-southeast-1; each step is printed as it
is observed. Exit status 0 when both uploads reach their completion message.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import requests

CLI = [sys.executable, "-c", "from vodai.cli import main; main()"]
CALLBACK_TOPIC, EVENTS_TOPIC = "vodai-callback", "vodai-events"
UPLOADS = [("video", "cn-shanghai"), ("image", "ap-southeast-1")]
STEPS = ["callback", "submitted", "job message", "job finished", "completion message"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _process(name: str, args: List[str], env: Dict[str, str], logs: Path) -> Iterator[str]:
    """Start ``vodai ARGS``; yield the URL it announces ("... listening on URL")."""
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(CLI + args, stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
                if " listening on " in line:
                    yield line.rsplit(" listening on ", 1)[1].strip()
                    return
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {err.read_text(encoding='utf-8', errors='replace')[-2000:]}")
            time.sleep(0.05)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


class _Watch:
    """What the demo has seen so far, per upload, so each step is printed once and in order."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.seen: Dict[str, List[str]] = {}

    def step(self, media_id: str, label: str, step: str, detail: str) -> None:
        done = self.seen.setdefault(media_id, [])
        if step in done or STEPS.index(step) != len(done):
            return
        done.append(step)
        print(f"[{time.monotonic() - self.started:6.2f}s] {label:<31} {step:<19} {detail}", flush=True)

    def finished(self, media_id: str) -> bool:
        return len(self.seen.get(media_id, [])) == len(STEPS)


def _observe(emulator: str, uploads: Dict[str, str], watch: _Watch) -> None:
    get = lambda path: requests.get(f"{emulator}/_emulator/{path}", timeout=10).json()  # noqa: E731
    deliveries = get("deliveries")
    jobs = get("jobs")
    messages = [json.loads(m["MessageBody"]) | {"_tag": m.get("MessageTag")} for m in get(f"topics/{CALLBACK_TOPIC}/messages")]
    for media_id, label in uploads.items():
        for d in deliveries:
            try:
                body = json.loads(d.get("Body") or "{}")
            except ValueError:
                continue
            if (d.get("Kind") == "http-callback" and media_id in (body.get("VideoId"), body.get("ImageId"))
                    and d.get("Result") == "delivered"):
                watch.step(media_id, label, "callback", f"{body.get('EventType')} POSTed, signed={d.get('Signed')}, answered 200")
        job = next((j for j in jobs if media_id in (j.get("VideoId"), j.get("MediaId"))), None)
        if job:
            watch.step(media_id, label, "submitted", f"{job.get('Action')} JobId {job['JobId']}")
            submitted = next((m for m in messages if m.get("JobId") == job["JobId"] and m.get("Event") != "JobCompleted"), None)
            if submitted:
                watch.step(media_id, label, "job message", f"on {CALLBACK_TOPIC}, tag {submitted['_tag']}")
            if job.get("Status", "").lower() in ("success", "fail", "failed"):
                watch.step(media_id, label, "job finished", f"Status {job['Status']}")
            done = [m for m in messages if m.get("JobId") == job["JobId"] and m.get("Event") == "JobCompleted"]
            if done:
                summary = json.dumps(done[0].get("ResultSummary"), ensure_ascii=False)[:90]
                watch.step(media_id, label, "completion message", f"tag {done[0]['_tag']} ({len(done)} message) {summary}")


def run(timeout: float = 90.0) -> int:
    ak, secret, token = "STS.demo" + secrets.token_hex(4), secrets.token_urlsafe(18), secrets.token_urlsafe(24)
    auth_key = "Demo" + secrets.token_hex(8)
    callback_port = _free_port()
    callback_url = f"http://127.0.0.1:{callback_port}/vod/callback"
    with tempfile.TemporaryDirectory(prefix="vodai-demo-") as tmp:
        logs = Path(tmp)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("VODAI_", "ALIBABA_CLOUD_"))}
        emulator_env = {**base, "ALIBABA_CLOUD_ACCESS_KEY_ID": ak, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
                        "ALIBABA_CLOUD_SECURITY_TOKEN": token}
        emulator_args = ["emulator", "--port", "0", "--topic", CALLBACK_TOPIC, "--topic", EVENTS_TOPIC,
                         "--lifecycle", "SubmitAIImageJob:after_seconds=2", "--lifecycle", "SubmitAIImageAuditJob:after_seconds=2"]
        with _process("emulator", emulator_args, emulator_env, logs) as emulator:
            # The functions' credentials: FC passes the service role's to each invocation (x-fc-*
            # headers, which the emulator's trigger sends too); VOD's HTTP callback carries none, so
            # vod_callback falls back to the environment, as on FC 3.0.
            fn_env = {**emulator_env, "VODAI_VOD_ENDPOINT": emulator, "VODAI_MNS_ENDPOINT": emulator,
                      "VODAI_AI_TEMPLATE_ID": "demo-ai-template", "VODAI_AUDIT_TEMPLATE_ID": "demo-audit-template",
                      "VODAI_CALLBACK_TOPIC": CALLBACK_TOPIC, "VODAI_EVENTS_TOPIC": EVENTS_TOPIC,
                      "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{logs}/state.sqlite3", "VODAI_DEAD_LETTERS": str(logs / "dead-letters"),
                      "VODAI_CALLBACK_URL": callback_url, "VODAI_CALLBACK_AUTH_KEY": auth_key}
            serve = lambda fn, port="0": ["serve", "--function", fn, "--port", port]  # noqa: E731
            with _process("vod_callback", serve("vod_callback", str(callback_port)), fn_env, logs), \
                    _process("on_upload", serve("on_upload"), fn_env, logs) as on_upload, \
                    _process("track_jobs", serve("track_jobs"), fn_env, logs) as track_jobs:
                control = lambda path, **kw: requests.request(kw.pop("method", "POST"), f"{emulator}/_emulator/{path}", timeout=10, **kw)  # noqa: E731
                control("callback", method="PUT", json={"url": callback_url, "auth_key": auth_key}).raise_for_status()
                control("triggers", json=f"{EVENTS_TOPIC}={on_upload}").raise_for_status()
                print(f"emulator {emulator}; vod_callback {callback_url}; on_upload {on_upload}; track_jobs {track_jobs}")
                uploads = {}
                for media, region in UPLOADS:
                    answer = control("uploads", json={"media_type": media, "region": region}).json()
                    uploads[answer["MediaId"]] = f"{media} upload in {region}"
                    print(f"uploaded: {media} {answer['MediaId']} in {region}")
                watch = _Watch(time.monotonic())
                deadline, next_timer = time.monotonic() + timeout, 0.0
                fc = {"x-fc-access-key-id": ak, "x-fc-access-key-secret": secret, "x-fc-security-token": token}
                while not all(watch.finished(m) for m in uploads) and time.monotonic() < deadline:
                    if time.monotonic() >= next_timer:  # the Timer trigger, every second
                        requests.post(f"{track_jobs}/invoke", data=b"{}", timeout=30,
                                      headers={"Content-Type": "application/octet-stream", "x-fc-request-id": secrets.token_hex(8), **fc})
                        next_timer = time.monotonic() + 1.0
                    _observe(emulator, uploads, watch)
                    time.sleep(0.2)
                ok = all(watch.finished(m) for m in uploads)
                print("demo: every upload reached its completion message" if ok else "demo: timed out before every step was seen")
                return 0 if ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    return run()


if __name__ == "__main__":
    sys.exit(main())
