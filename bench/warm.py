"""Benchmark 3: warm overhead per event, the network taken out. Runs in its own process,
pinned to one CPU (``python -m bench.warm --events N --runs R``; prints JSON).

Each event is one warm invocation as FC makes it: ``vodai.handler.run(event, context, ...)``
(build the clients for the invocation's credentials, unwrap, parse, resolve the region, route,
claim the job key, sign and send the submit, save the JobId, sign and send the publish,
complete, log the outcome line) and ``.to_json()`` of the summary. Every event is a new upload
(no duplicates). Modes, alternated run by run:

- ``canned``: a ``requests`` adapter answers at once with canned VOD / MNS responses, built by
  ``HTTPAdapter.build_response`` as from a socket: vodai's own cost (including the ``requests``
  machinery it chose), nothing else.
- ``emulator``: the emulator's in-process transport (``vodai.emulator.mount``): adds the
  emulator's own work (signature verification, job and message bookkeeping).
- ``decide``: only the pure part (unwrap, parse, region, route) for the same events.
- ``floor``: the stdlib floor's whole per-event job (parse, V3 + MNS signing, build the
  requests) against a fake connection with the same canned answers: the least this work costs.

The idempotency store is ``memory://`` (a fresh one per run, as is the emulator backend); the
outcome log line is written to /dev/null (FC would capture stderr).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c  # noqa: E402

MODES = ("canned", "emulator", "decide", "floor")
CANNED_URL = "http://canned.vodai.local"


def _canned_adapter():
    import io

    from requests.adapters import HTTPAdapter
    from urllib3 import HTTPResponse

    mns_headers = {"Content-Type": "text/xml;charset=utf-8"}
    vod_headers = {"Content-Type": "application/json;charset=utf-8"}
    mns_body = (b'<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
                b'<MessageId>M%031d</MessageId><MessageBodyMD5>0123456789ABCDEF0123456789ABCDEF</MessageBodyMD5>'
                b'</Message>')
    vod_body = b'{"RequestId":"R%031d","JobId":"J%031d"}'

    class CannedAdapter(HTTPAdapter):
        """Answers every request at once: a JobId for VOD, a MessageId for MNS. The answer is a
        urllib3 response made into requests' Response by ``HTTPAdapter.build_response``, as from a
        socket, so the figure holds what requests costs vodai but the connection pool and socket."""

        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
            self.n += 1
            if "/topics/" in (request.url or ""):
                status, headers = 201, dict(mns_headers, **{"x-mns-request-id": f"R{self.n:031d}"})
                body = mns_body % self.n
            else:
                status, headers, body = 200, vod_headers, vod_body % (self.n, self.n)
            raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=status, reason="OK",
                               preload_content=False, decode_content=False, request_url=request.url)
            return self.build_response(request, raw)

    return CannedAdapter()


def _context():
    from vodai.local_context import LocalContext, LocalCredentials

    return LocalContext(region="cn-hangzhou", credentials=LocalCredentials(c.AK, c.SECRET, c.TOKEN))


def _settings(run: int):
    from pydantic import SecretStr

    from vodai.config import Settings

    env = c.handler_env(CANNED_URL)
    base = Settings.from_env(env)
    return base.model_copy(update={"idempotency_store": SecretStr(f"memory://warm-{os.getpid()}-{run}")})


def make_runner(mode: str, run: int) -> Callable[[bytes], object]:
    """A callable handling one event in ``mode``, with fresh state (store, emulator)."""
    if mode == "floor":
        return _floor_runner()
    from vodai.clients.session import new_session
    from vodai.handler import run as run_invocation
    from vodai.routing.rules import load_table

    settings = _settings(run)
    routes = load_table(settings.routes)
    context = _context()
    if mode == "decide":
        from vodai.events.envelopes import unwrap
        from vodai.pipeline.dispatch import decide_record

        def decide(raw: bytes):
            return [decide_record(r, settings, routes, context)[0] for r in unwrap(raw)]

        return decide
    session = new_session()
    if mode == "canned":
        adapter = _canned_adapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    else:
        from vodai.emulator import EmulatorBackend, mount

        backend = EmulatorBackend()
        backend.add_credentials(c.AK, c.SECRET, c.TOKEN)
        backend.create_topic(c.TOPIC)
        mount(backend, session)

    def invoke(raw: bytes):
        result = run_invocation(raw, context, settings=settings, routes=routes, session=session)
        text = result.to_json()
        if result.outcomes[0].status != "submitted":
            raise RuntimeError(f"warm {mode}: not submitted: {text[:500]}")
        return text

    return invoke


def _floor_runner() -> Callable[[bytes], object]:
    sys.path.insert(0, str(c.BENCH / "baselines"))
    import stdlib_floor

    class FakeResponse:
        def __init__(self, status: int, body: bytes) -> None:
            self.status, self._body = status, body

        def read(self) -> bytes:
            return self._body

    class FakeConnection:
        """http.client.HTTPConnection's request/getresponse, answering at once."""

        def __init__(self) -> None:
            self.n, self.last = 0, ""

        def request(self, method, path, body=b"", headers=None):
            self.n, self.last = self.n + 1, path

        def getresponse(self):
            if self.last.startswith("/topics/"):
                return FakeResponse(201, f"<Message><MessageId>M{self.n:031d}</MessageId></Message>".encode())
            return FakeResponse(200, b'{"RequestId":"R%031d","JobId":"J%031d"}' % (self.n, self.n))

    conn = FakeConnection()
    creds = (c.AK, c.SECRET, c.TOKEN)

    def floor(raw: bytes):
        job_id, _ = stdlib_floor.submit_and_publish(raw, creds, conn, "127.0.0.1:9", template=c.TEMPLATE, topic=c.TOPIC)
        if not job_id:
            raise RuntimeError("floor: not submitted")
        return job_id

    return floor


def measure(runner: Callable[[bytes], object], events: List[bytes]) -> List[float]:
    times = []
    clock = time.perf_counter
    for raw in events:
        t0 = clock()
        runner(raw)
        times.append((clock() - t0) * 1e6)
    return times


def run_all(n_events: int, runs: int, warmup: int, modes=MODES) -> Dict[str, dict]:
    per_mode: Dict[str, Dict[str, list]] = {m: {"p50_us": [], "p90_us": [], "p99_us": [], "mean_us": [],
                                                 "events_per_s": []} for m in modes}
    devnull = open(os.devnull, "w")
    serial = 0
    for run in range(runs):
        order = list(modes[run % len(modes):]) + list(modes[: run % len(modes)])
        for mode in order:
            runner = make_runner(mode, run)
            warm_events = [c.video_event(serial + i, tag="warmup") for i in range(warmup)]
            events = [c.video_event(serial + i, tag="warm") for i in range(n_events)]
            serial += n_events + warmup
            saved, sys.stderr = sys.stderr, devnull  # the outcome log lines
            try:
                measure(runner, warm_events)
                gc.collect()
                t0 = time.perf_counter()
                times = measure(runner, events)
                total = time.perf_counter() - t0
            finally:
                sys.stderr = saved
            times.sort()
            stats = per_mode[mode]
            stats["p50_us"].append(c.percentile(times, 50))
            stats["p90_us"].append(c.percentile(times, 90))
            stats["p99_us"].append(c.percentile(times, 99))
            stats["mean_us"].append(sum(times) / len(times))
            stats["events_per_s"].append(len(times) / total)
    return {m: {k: c.summary(v, 1) for k, v in stats.items()} for m, stats in per_mode.items()}


def run_isolated(n_events: int, runs: int, warmup: int, modes=MODES, extra: tuple = ()) -> dict:
    """Every (run, mode) in its own process, pinned to one CPU, modes rotated run by run: no mode
    inherits another's state (an emulator backend keeps its threads and memory, a store its records)."""
    import subprocess

    per_mode: Dict[str, Dict[str, list]] = {m: {} for m in modes}
    info: dict = {}
    for run in range(runs):
        for mode in list(modes[run % len(modes):]) + list(modes[: run % len(modes)]):
            command = [sys.executable, "-m", "bench.warm", "--events", str(n_events), "--runs", "1",
                       "--warmup", str(warmup), "--modes", mode, *extra]
            proc = subprocess.run(command, capture_output=True, text=True, cwd=c.ROOT)
            if proc.returncode != 0:
                raise RuntimeError(f"warm {mode} failed:\n{proc.stderr[-3000:]}")
            doc = json.loads(proc.stdout)
            info = {k: v for k, v in doc.items() if k != "modes"}
            for key, s in doc["modes"][mode].items():
                per_mode[mode].setdefault(key, []).append(s["median"])
    return {**info, "runs": runs, "isolated": True,
            "modes": {m: {k: c.summary(v, 1) for k, v in stats.items()} for m, stats in per_mode.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per run and mode")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: do not pin)")
    parser.add_argument("--isolated", action="store_true", help="each run and mode in its own process")
    args = parser.parse_args(argv)
    modes = tuple(m for m in args.modes.split(",") if m)
    if args.isolated:
        print(json.dumps(run_isolated(args.events, args.runs, args.warmup, modes, ("--cpu", str(args.cpu)))))
        return 0
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    result = {"events": args.events, "runs": args.runs, "warmup": args.warmup,
              "cpu": args.cpu, "python": sys.version.split()[0],
              "modes": run_all(args.events, args.runs, args.warmup, modes)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
