"""The one retry helper: attempt counts, jitter bounds, the deadline, non-retryable errors."""

from __future__ import annotations

import random

import pytest

from vodai.exceptions import TransportError, VodApiError
from vodai.retry import Deadline, RetryPolicy, is_retryable_api_error, retry_call


class Flaky:
    """Fails with ``errors`` in turn, then answers ``"ok"``; records each attempt's number."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts: list[int] = []

    def __call__(self, attempt: int) -> str:
        self.attempts.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def throttled() -> VodApiError:
    return VodApiError("Throttling", "slow down", status=503, retryable=True)


def test_retries_until_the_call_answers():
    call, waits = Flaky(throttled(), TransportError("reset")), []
    assert retry_call(call, RetryPolicy(5), retryable=is_retryable_api_error, sleep=waits.append) == "ok"
    assert call.attempts == [1, 2, 3]
    assert len(waits) == 2


def test_gives_up_after_max_attempts_with_the_last_error():
    call, waits = Flaky(*[throttled() for _ in range(9)]), []
    with pytest.raises(VodApiError):
        retry_call(call, RetryPolicy(max_attempts=4), retryable=is_retryable_api_error, sleep=waits.append)
    assert call.attempts == [1, 2, 3, 4]
    assert len(waits) == 3


def test_a_non_retryable_error_passes_through_at_once():
    refused = VodApiError("InvalidParameter", "bad", status=400, retryable=False)
    call, waits = Flaky(refused), []
    with pytest.raises(VodApiError) as caught:
        retry_call(call, RetryPolicy(5), retryable=is_retryable_api_error, sleep=waits.append)
    assert caught.value is refused
    assert call.attempts == [1] and waits == []


def test_an_error_outside_the_predicate_is_not_retried():
    call, waits = Flaky(KeyError("bug")), []
    with pytest.raises(KeyError):
        retry_call(call, RetryPolicy(5), retryable=is_retryable_api_error, sleep=waits.append)
    assert call.attempts == [1] and waits == []


def test_full_jitter_stays_within_the_exponential_cap():
    policy = RetryPolicy(max_attempts=8, base_delay=0.1, max_delay=0.5)
    seeded = random.Random(7)
    waits: list[float] = []
    with pytest.raises(VodApiError):
        retry_call(Flaky(*[throttled() for _ in range(8)]), policy, retryable=is_retryable_api_error,
                   sleep=waits.append, rand=seeded.random)
    caps = [min(0.5, 0.1 * 2 ** n) for n in range(7)]
    assert len(waits) == 7
    assert all(0 <= wait <= cap for wait, cap in zip(waits, caps))
    again = random.Random(7)
    assert waits == [again.random() * cap for cap in caps]  # the same seed, the same waits


def test_stops_early_when_the_deadline_leaves_no_room():
    now = [0.0]
    deadline = Deadline(at=3.0, clock=lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def call(attempt: int) -> str:
        now[0] += 0.9  # each attempt takes 0.9 s
        raise throttled()

    attempts: list[int] = []
    with pytest.raises(VodApiError):
        retry_call(lambda n: attempts.append(n) or call(n), RetryPolicy(max_attempts=50, base_delay=0.1, max_delay=0.1),
                   retryable=is_retryable_api_error, sleep=sleep, rand=lambda: 1.0, deadline=deadline)
    # 0.9, +0.1 wait, 1.9: then a wait and one more second no longer fit before 3.0.
    assert attempts == [1, 2]
    assert now[0] < 3.0
