"""The one retry loop (:func:`retry_call`): exponential backoff with full jitter, bounded by the
invocation's deadline, retrying only what a predicate accepts.

Every retry of vodai's own goes through it: the publishes of the pipeline and of the tracker, the
tracker's VOD reads, the SQLite setup. Two loops stay their own, each saying why: the VOD submit
(``pipeline.jobs._submit``: after an ambiguous failure it must resend the identical signed request,
nonce included, and it changes its policy mid-way), and Redis' optimistic transactions
(``redisclient.transact``: a conflict is retried at once, with no wait; connection retries are
redis-py's own ``Retry``).

Full jitter (a random delay between 0 and the exponential cap) spreads out the retries of many
concurrent invocations that were throttled at the same moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from .exceptions import ApiError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times, and how long apart, a retryable error is tried again."""

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return rand() * min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Deadline:
    """When the invocation must be done: FC has no remaining-time call, so it is start + timeout."""

    at: float
    clock: Callable[[], float]

    def remaining(self) -> float:
        return self.at - self.clock()

    def allows(self, seconds: float) -> bool:
        return self.remaining() > seconds

    def bound(self, timeout: float, floor: float = 0.05) -> float:
        """``timeout`` capped by the time left (never below ``floor``, so a call still gets a chance)."""
        return max(floor, min(timeout, self.remaining()))


def next_delay(policy: RetryPolicy, attempt: int, deadline: Optional[Deadline], rand: Callable[[], float]) -> Optional[float]:
    """The wait before the next attempt, or None when no attempt is left (count or time)."""
    if attempt >= policy.max_attempts:
        return None
    wait = policy.delay(attempt, rand)
    # Leave room for the next attempt itself: give up when waiting would eat the rest of the time.
    if deadline is not None and not deadline.allows(wait + 1.0):
        return None
    return wait


def retry_call(
    call: Callable[[int], T],
    policy: RetryPolicy,
    *,
    retryable: Callable[[BaseException], bool],
    sleep: Callable[[float], object],
    rand: Callable[[], float] = random.random,
    deadline: Optional[Deadline] = None,
) -> T:
    """``call(attempt)`` until it returns, retrying what ``retryable`` accepts: the one retry loop.

    Parameters
    ----------
    call
        Makes one attempt; gets its 1-based number (to count, or to shorten a timeout).
    policy
        Attempts and backoff (full jitter between 0 and the exponential cap).
    retryable
        Whether an exception is worth another attempt; any other exception passes through at once.
    sleep, rand
        Injected so tests run without waiting and with a seeded random.
    deadline
        Stop early when the wait and one more attempt would not fit before it.

    Returns
    -------
    The first result of ``call``.

    Raises
    ------
    The last exception, when it is not retryable or no attempt (count or time) is left.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return call(attempt)
        except Exception as exc:
            wait = next_delay(policy, attempt, deadline, rand) if retryable(exc) else None
            if wait is None:
                raise
        sleep(wait)


def is_retryable_api_error(exc: BaseException) -> bool:
    """The predicate of service calls: an :class:`~vodai.exceptions.ApiError` that says trying again can help."""
    return isinstance(exc, ApiError) and exc.retryable
