"""A pipeline against the in-process emulator, with a hand-driven clock and recorded sleeps, for
following jobs to their result. Everything is passed in through Dependencies: nothing is patched."""

from __future__ import annotations


import json
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, List, Optional

from vodai.clients import new_session
from vodai.config import Settings
from vodai.local_context import LocalContext, LocalCredentials
from vodai.deadletter.backends.jsonl import JsonlDirectorySink
from vodai.emulator import EmulatorBackend, mount
from vodai.emulator.backend import audit_complete_event
from vodai.events import samples
from vodai.idempotency import open_store
from vodai.pipeline import build, dispatch
from vodai.tracking import open_tracking
from vodai.tracking.poller import poll_once

AK, SECRET, TOKEN = "STS.tracking-key", "tracking-secret-Qw12", "tracking-sts-token-Zx34"
URL = "http://emulator.tracking"
TOPIC = "vodai-callback"
COMPLETION_TAGS = {"AIImageJobDone", "AIAuditJobDone"}
_DEAD_LETTERS = tempfile.TemporaryDirectory(prefix="vodai-tracking-dead-letters-")


class ManualClock:
    """``deps.clock``: moves only when told (lock expiry and job age without sleeping)."""

    def __init__(self, start: Optional[float] = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    backend: EmulatorBackend
    deps: Any
    context: LocalContext
    clock: ManualClock
    slept: List[float] = field(default_factory=list)

    def upload(self, media: str, region: str, count: int = 1) -> list:
        """``count`` uploads through the on_upload pipeline; their outcomes."""
        outcomes = []
        for _ in range(count):
            body = samples.body(media, region=region, media_id=uuid.uuid4().hex)
            outcomes.extend(dispatch(samples.wrap(body, "raw"), self.deps, context=self.context).outcomes)
        return outcomes

    def deliver(self, event: dict, deps: Any = None) -> Any:
        """One delivery of a VOD event (raw body) through the pipeline; its one outcome."""
        [outcome] = dispatch(json.dumps(event).encode("utf-8"), deps or self.deps, context=self.context).outcomes
        return outcome

    def poll(self, deps: Any = None, **kw: Any):
        return poll_once(deps or self.deps, context=self.context, **kw)

    def messages(self) -> List[dict]:
        return [{"Tag": m["MessageTag"], "Id": m["MessageId"], **json.loads(m["MessageBody"])}
                for m in self.backend.topic_messages(TOPIC)]

    def completions(self) -> List[dict]:
        return [m for m in self.messages() if m.get("Event") == "JobCompleted"]

    def audit_event(self, job_id: str) -> dict:
        """The AIMediaAuditComplete event of a finished emulator job, as VOD sends it."""
        job = self.backend.get_job(job_id)
        assert job is not None and job["Status"] in ("success", "fail"), job
        return audit_complete_event(job, time.time())

    def with_deps(self, **changes: Any) -> Any:
        return replace(self.deps, **changes)


def settings(**changes: Any) -> Settings:
    values = dict(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic=TOPIC, vod_endpoint=URL,
                  mns_endpoint=URL, retry_attempts=4)
    values.update(changes)
    return Settings(**values)


def harness(*, store: Any = None, tracking: Any = None, seed: int = 7, backend: Optional[EmulatorBackend] = None,
            clock: Optional[ManualClock] = None, **setting_changes: Any) -> Harness:
    """The pipeline and the poller on one emulator; the stores default to fresh memory ones."""
    if backend is None:
        backend = EmulatorBackend(seed=seed)
        backend.add_credentials(AK, SECRET, security_token=TOKEN)
        backend.create_topic(TOPIC)
    session = new_session()
    mount(backend, session)
    conf = settings(**setting_changes)
    context = LocalContext(credentials=LocalCredentials(AK, SECRET, TOKEN))
    store = store or open_store("memory://")
    tracking = tracking or open_tracking("memory://", namespace=conf.namespace)
    clock = clock or ManualClock()
    slept: List[float] = []
    deps = build(conf, context=context, session=session, store=store, tracking=tracking,
                 dead_letters=JsonlDirectorySink(_DEAD_LETTERS.name))
    deps = replace(deps, clock=clock, sleep=slept.append, rand=lambda: 0.5)
    return Harness(backend, deps, context, clock, slept)
