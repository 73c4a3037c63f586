"""Replay decides each item once: the decisions it makes to lock the item's job keys are what the
invocation runs on (not parsed and routed a second time), and they end exactly as an invocation
that decides for itself ends."""

from __future__ import annotations

import threading

import pytest

from conftest import EVENTS
from vodai.local import emulator_target
from vodai.pipeline import decide_all, plan
from vodai.replay import Runner, planned_keys, read_sources
from vodai.replay.runner import decided_keys

SAMPLES = sorted(p for p in EVENTS.rglob("*.json") if p.name != "expected.json")
# What differs between two runs of one event on two emulators: ids they hand out, and timings.
_RUN_SPECIFIC = ("DurationMs", "JobId", "RequestId", "MessageId", "DeadLetterId")


def _comparable(outcomes):
    return [{k: v for k, v in o.to_dict().items() if k not in _RUN_SPECIFIC} for o in outcomes]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_an_invocation_on_decided_events_ends_as_one_that_decides_itself(sample, clean, monkeypatch):
    raw = sample.read_bytes()
    monkeypatch.delenv("VODAI_IDEMPOTENCY_STORE")  # the test's one store: each target gets its own instead
    deciding, given = emulator_target(), emulator_target()  # each with its own emulator and store
    context = given.new_context()
    decided = decide_all(raw, settings=given.settings, routes=given.routes, context=context)
    begun = [o.to_dict() for _r, o, _e, _d in decided]

    prefix = given.settings.namespace
    planned = plan(raw, settings=given.settings, routes=given.routes, context=context, decided=decided)
    assert [o.to_dict() for _r, o, _e, _d in decided] == begun  # the plan copies, leaves them alone
    assert _comparable(planned.outcomes) == _comparable(plan(raw, settings=given.settings, routes=given.routes,
                                                               context=context).outcomes)
    assert decided_keys(decided, prefix) == planned_keys(planned, prefix)

    by_itself = deciding.invoke(raw, deciding.new_context())
    on_decided = given.invoke(raw, context, decided=decided)
    assert _comparable(on_decided.outcomes) == _comparable(by_itself.outcomes)
    assert len(by_itself.outcomes) == len(decided) > 0
    # The decided outcomes themselves became the result's: nothing was decided again.
    assert all(a is b for a, (_r, b, _e, _d) in zip(on_decided.outcomes, decided))


class RecordingTarget:
    """A target running the handler in this process that records what each invocation was given."""

    takes_decided = True

    def __init__(self) -> None:
        self.real = emulator_target()
        self.settings, self.routes = self.real.settings, self.real.routes
        self.given = []
        self._lock = threading.Lock()

    def new_context(self):
        return self.real.new_context()

    def invoke(self, raw, context, decided=None):
        with self._lock:
            self.given.append(decided)
        return self.real.invoke(raw, context, decided=decided)


def test_the_runner_hands_its_decisions_to_a_target_that_takes_them(clean):
    target = RecordingTarget()
    items = read_sources([str(EVENTS / "cloudevent-batch" / "video-cn-shanghai.json"),
                          str(EVENTS / "raw" / "video-cn-beijing.json"), str(EVENTS / "raw" / "image-cn-beijing.json")])
    results = Runner(target, concurrency=2).run(items)
    assert len(target.given) == 3 and all(isinstance(d, list) and d for d in target.given)
    ran = {id(o) for r in results for o in r.outcomes}
    assert ran == {id(o) for d in target.given for _r, o, _e, _dec in d}
    assert [o.status for r in results for o in r.outcomes][:2] == ["submitted", "submitted"]
