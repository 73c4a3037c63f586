"""Deadline-aware work (issue 26): no submit starts unless the invocation has time left to learn
its answer; the events not started are left for the redelivery, never dead-lettered."""

import dataclasses
import json

from unit.test_pipeline import CREDS, _target

from vodai.exceptions import TransportError, VodApiError
from vodai.local_context import LocalContext, LocalCredentials, LocalFunction
from vodai.pipeline import DEAD_LETTERED, FAILED, SKIPPED, SUBMITTED, dispatch

SUBMIT_SECONDS = 0.3
FUNCTION_TIMEOUT = 5


class FakeClock:
    """The invocation's clock: time passes only when a call takes it or the pipeline sleeps."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class SlowVod:
    """The VOD client, each call taking SUBMIT_SECONDS; a call given a shorter read timeout times
    out after the job was created, as a real slow VOD would (the answer is lost, the job is not)."""

    def __init__(self, vod, clock: FakeClock) -> None:
        self.vod, self.clock = vod, clock

    def stamp(self):
        return self.vod.stamp()

    def prepare(self, action, region, params, **signed_with):
        return self.vod.prepare(action, region, params, **signed_with)

    def send(self, prepared, action, *, timeout=None):
        answer = self.vod.send(prepared, action, timeout=timeout)
        read = timeout[1] if timeout else SUBMIT_SECONDS
        if read < SUBMIT_SECONDS:
            self.clock.now += read
            raise TransportError("read timed out", action=action, ambiguous=True)
        self.clock.now += SUBMIT_SECONDS
        return answer


def _batch(count: int) -> bytes:
    return json.dumps([{"EventType": "FileUploadComplete", "VideoId": f"video-{i:03d}", "Status": "success",
                        "Size": 100, "FileUrl": f"https://example.com/{i}.mp4", "EventTime": "2026-12-01T00:00:00Z"}
                       for i in range(count)]).encode()


def _slow_target():
    backend, deps, _ = _target({"connect_timeout": 0.5, "read_timeout": 1.0, "retry_base_delay": 0.01})
    clock = FakeClock()
    deps = dataclasses.replace(deps, vod=SlowVod(deps.vod, clock), clock=clock, sleep=clock.sleep)
    creds = LocalCredentials(CREDS.access_key_id, CREDS.access_key_secret, CREDS.security_token)
    context = LocalContext(credentials=creds, function=LocalFunction(timeout=FUNCTION_TIMEOUT))
    return backend, deps, context, clock


def test_a_batch_longer_than_the_timeout_leaves_the_rest_for_redelivery():
    backend, deps, context, clock = _slow_target()
    raw = _batch(100)
    started = clock()
    result = dispatch(raw, deps, context=context)
    assert clock() - started <= FUNCTION_TIMEOUT, "the invocation ran past FC's timeout"
    statuses = [o.status for o in result.outcomes]
    assert len(statuses) == 100 and DEAD_LETTERED not in statuses
    submitted = [o for o in result.outcomes if o.status == SUBMITTED]
    assert submitted and all(o.job_id and o.message_id for o in submitted)
    # Every submit that started has its outcome; the others were never sent.
    assert len(backend.jobs()) == len(submitted)
    rest = [o for o in result.outcomes if o.status != SUBMITTED]
    assert rest and all(o.status == FAILED and o.reason.startswith("not processed:") for o in rest)
    assert statuses == [SUBMITTED] * len(submitted) + [FAILED] * len(rest)

    for _ in range(20):  # the platform delivers the batch again until it succeeds
        result = dispatch(raw, deps, context=context)
        assert DEAD_LETTERED not in {o.status for o in result.outcomes}
        if not result.failed:
            break
    assert not result.failed
    assert {o.status for o in result.outcomes} <= {SUBMITTED, SKIPPED}
    jobs = backend.jobs()
    media = sorted(json.loads(log["params"]["UserData"])["Extend"]["vodai"]["MediaId"]
                   for log in backend.requests_log() if log["action"] == "SubmitAIImageJob")
    assert len(jobs) == 100 and media == [f"video-{i:03d}" for i in range(100)]


def test_the_first_submit_starts_even_when_the_timeouts_exceed_the_invocation():
    # Read timeout 10 s in a 5 s function: waiting for a redelivery would not give more time.
    backend, deps, context, clock = _slow_target()
    deps = dataclasses.replace(deps, settings=deps.settings.model_copy(update={"read_timeout": 10.0}))
    result = dispatch(_batch(3), deps, context=context)
    assert result.outcomes[0].status == SUBMITTED
    assert len(backend.jobs()) == len([o for o in result.outcomes if o.status == SUBMITTED])


class ThrottledOnceVod(SlowVod):
    """VOD refusing the first call (Throttling: definite, retryable) after it took most of the time."""

    def __init__(self, vod, clock: FakeClock, took: float) -> None:
        super().__init__(vod, clock)
        self.took, self.sends = took, 0

    def send(self, prepared, action, *, timeout=None):
        self.sends += 1
        if self.sends == 1:
            self.clock.now += self.took
            raise VodApiError("Throttling", "Request was denied due to request throttling.", status=503,
                              retryable=True, action=action)
        return super().send(prepared, action, timeout=timeout)


def test_no_retry_starts_without_time_to_learn_its_answer():
    backend, deps, context, clock = _slow_target()
    vod = ThrottledOnceVod(deps.vod.vod, clock, took=3.2)  # 4.5 s budget: 1.3 s left, a call needs 1.5 s
    deps = dataclasses.replace(deps, vod=vod)
    raw = _batch(1)
    [outcome] = dispatch(raw, deps, context=context).outcomes
    assert (outcome.status, vod.sends, backend.jobs()) == (FAILED, 1, [])
    [outcome] = dispatch(raw, deps, context=context).outcomes  # the redelivery
    assert outcome.status == SUBMITTED and len(backend.jobs()) == 1
