"""Retry timing: exponential backoff with full jitter, bounded by the invocation's deadline.

Full jitter (a random delay between 0 and the exponential cap) spreads out the retries of many
concurrent invocations that were throttled at the same moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Optional


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
