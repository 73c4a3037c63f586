"""The soak: thousands of deliveries through the whole pipeline, with faults, duplicates and
malformed events; then the books must balance. Shared by the bounded test and ``make soak``.

The mix (per the issue): 10% throttling, 5% server errors and 2% connection resets on every call
(VOD and MNS), 10% duplicate deliveries, 5% malformed events. A delivery whose outcome is
``failed`` is delivered again, as FC/MNS would, until it reaches a final outcome.
"""

from __future__ import annotations


import json
import random
import tempfile
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List

from vodai.clients import new_session
from vodai.config import Settings
from vodai.local_context import LocalContext, LocalCredentials
from vodai.deadletter.backends.jsonl import JsonlDirectorySink
from vodai.emulator import EmulatorBackend, mount
from vodai.emulator.faults import FaultRule
from vodai.events import samples
from vodai.idempotency import open_store
from vodai.pipeline import FINAL, build, dispatch

AK, SECRET, TOKEN = "STS.soak-key", "soak-secret-Zq81", "soak-sts-token-Jx42"
TOPIC = "vodai-callback"
URL = "http://emulator.soak"
SHAPES = ["raw", "raw-base64", "mns-topic-json", "mns-topic-stream-attrs", "cloudevent", "cloudevent-pascal", "http-trigger"]
UPLOADS = [("video", "cn-shanghai"), ("video", "cn-beijing"), ("image", "ap-southeast-1")]
MAX_DELIVERIES = 60  # per event: far beyond what the fault rates need; hitting it is a failure


def fault_rules() -> List[FaultRule]:
    # Rules are tried in order and the first that fires wins: each probability is conditional on
    # the rules before it not firing, so the overall rates are 10%, 5% and 2%.
    return [
        FaultRule(operation="*", kind="error", code="Throttling.User", status=400, probability=0.10),
        FaultRule(operation="*", kind="error", code="InternalError", status=500, probability=0.05 / 0.90),
        FaultRule(operation="*", kind="reset", probability=0.02 / 0.85),
    ]


@dataclass
class Delivery:
    kind: str  # "valid" or "malformed"
    key: str  # media id, or a malformed sample's id
    raw: bytes
    attempts: int = 0


@dataclass
class SoakReport:
    uploads: int
    deliveries: int
    duplicates: int
    malformed: int
    redeliveries: int
    statuses: Counter
    faults: Counter
    calls: int
    jobs: int
    messages: int
    dead_letters: int
    problems: List[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("valid uploads", self.uploads), ("deliveries (first tries)", self.deliveries),
            ("duplicate deliveries", self.duplicates), ("malformed events", self.malformed),
            ("redeliveries after a failed outcome", self.redeliveries), ("service calls", self.calls),
            *((f"faults injected: {k}", v) for k, v in sorted(self.faults.items())),
            *((f"outcomes: {k}", v) for k, v in sorted(self.statuses.items())),
            ("jobs in VOD", self.jobs), ("messages on the topic", self.messages), ("dead letters", self.dead_letters),
        ]
        return "\n".join(f"| {name} | {value} |" for name, value in rows)


def _malformed(i: int, rng: random.Random) -> bytes:
    choices = [
        lambda: b"{not json " + str(i).encode(),
        lambda: json.dumps({"EventType": "FileUploadComplete", "Size": i}).encode(),  # no VideoId
        lambda: json.dumps({"Status": "success", "VideoId": f"x{i}"}).encode(),  # no EventType
        lambda: samples.wrap(f"garbage-{i}", "mns-topic-json"),  # Message not JSON
        lambda: json.dumps({"EventType": "ImageUploadComplete", "ImageId": f"m{i}", "Size": "huge"}).encode(),
    ]
    return rng.choice(choices)()


def make_deliveries(uploads: int, rng: random.Random) -> List[Delivery]:
    out: List[Delivery] = []
    for i in range(uploads):
        media, region = UPLOADS[i % len(UPLOADS)]
        media_id = f"soak{media[0]}{i:06d}"
        body = samples.body(media, region=region, media_id=media_id)
        out.append(Delivery("valid", media_id, samples.wrap(body, rng.choice(SHAPES), region=region)))
    for d in list(out):
        if rng.random() < 0.10:  # the platform delivers it again
            out.append(Delivery("valid", d.key, d.raw))
    n_malformed = round(len(out) * 0.05 / 0.95)
    out += [Delivery("malformed", f"malformed-{i}", _malformed(i, rng)) for i in range(n_malformed)]
    rng.shuffle(out)
    return out


def run_soak(uploads: int, seed: int, workdir: Path) -> SoakReport:
    rng = random.Random(seed)
    backend = EmulatorBackend()
    backend.add_credentials(AK, SECRET, security_token=TOKEN)
    backend.create_topic(TOPIC)
    backend.faults.seed(seed)
    for rule in fault_rules():
        backend.faults.add(rule)
    session = new_session()
    mount(backend, session)
    settings = Settings(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic=TOPIC,
                        vod_endpoint=URL, mns_endpoint=URL)
    context = LocalContext(credentials=LocalCredentials(AK, SECRET, TOKEN))
    dead_dir = workdir / "dead-letters"
    deps = build(settings, context=context, session=session, store=open_store("memory://"),
                 dead_letters=JsonlDirectorySink(str(dead_dir)))
    # Backoff delays are computed and bounded as in production, but not slept: the soak is about
    # outcomes, not waiting (the emulator has no rate limit to cool down).
    deps = replace(deps, sleep=lambda seconds: None)

    deliveries = make_deliveries(uploads, rng)
    queue = deque(deliveries)
    statuses: Counter = Counter()
    redeliveries = 0
    problems: List[str] = []
    while queue:
        d = queue.popleft()
        d.attempts += 1
        [outcome] = dispatch(d.raw, deps, context=context).outcomes
        if outcome.status in FINAL:
            statuses[outcome.status + (" (duplicate)" if outcome.duplicate else "")] += 1
            if d.kind == "malformed" and outcome.status != "dead_lettered":
                problems.append(f"{d.key}: malformed but {outcome.status}")
        elif d.attempts < MAX_DELIVERIES:
            redeliveries += 1
            queue.append(d)
        else:
            problems.append(f"{d.key}: no final outcome after {d.attempts} deliveries: {outcome.reason}")

    valid_ids = {d.key for d in deliveries if d.kind == "valid"}
    jobs = Counter(j.get("VideoId") or j.get("MediaId") for j in backend.jobs())
    messages = Counter(json.loads(m["MessageBody"])["MediaId"] for m in backend.topic_messages(TOPIC))
    for media_id in valid_ids:
        if jobs[media_id] != 1 or messages[media_id] != 1:
            problems.append(f"{media_id}: {jobs[media_id]} jobs, {messages[media_id]} messages")
    extra = (set(jobs) | set(messages)) - valid_ids
    if extra:
        problems.append(f"jobs or messages for unknown media: {sorted(extra)[:5]}")
    letters = [json.loads(line) for f in sorted(dead_dir.glob("*.jsonl")) for line in f.read_text().splitlines()]
    malformed = [d for d in deliveries if d.kind == "malformed"]
    if len(letters) != len(malformed):
        problems.append(f"{len(letters)} dead letters for {len(malformed)} malformed events")
    log = backend.requests_log()
    faults = Counter(entry["fault"] for entry in log if entry.get("fault"))
    return SoakReport(
        uploads=len(valid_ids), deliveries=len(deliveries), duplicates=len(deliveries) - len(valid_ids) - len(malformed),
        malformed=len(malformed), redeliveries=redeliveries, statuses=statuses, faults=faults, calls=len(log),
        jobs=sum(jobs.values()), messages=sum(messages.values()), dead_letters=len(letters), problems=problems,
    )


if __name__ == "__main__":  # make soak
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="vodai soak: faults, duplicates, malformed events; the books must balance")
    parser.add_argument("--uploads", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vodai-soak-") as tmp:
        report = run_soak(args.uploads, args.seed, Path(tmp))
    print("| what | count |\n|---|---|\n" + report.table())
    for problem in report.problems[:20]:
        print("PROBLEM:", problem, file=sys.stderr)
    sys.exit(1 if report.problems else 0)
