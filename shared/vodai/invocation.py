"""What the events of one invocation share: its request id, its deadline, and until when its claims
hold. Used by the upload pipeline and the tracking poller alike, so both follow one set of rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import context as fc_context
from .config import Settings
from .retry import Deadline

# Stop starting new work this long before FC's timeout, so outcomes and logs still get out.
DEADLINE_MARGIN = 2.0


@dataclass(frozen=True, slots=True)
class Invocation:
    """What the events of one invocation share: its request id, its deadline, and until when its claims hold."""

    request_id: Optional[str]
    deadline: Deadline
    lock_until: float
    #: Seconds from the start to the deadline: the function's timeout less the margin.
    budget: float = 0.0

    def allows_call(self, seconds: float) -> bool:
        """Whether a call that may take ``seconds`` (connect + read timeout) can still start.

        A call started later could outlive the invocation and leave its outcome unknown. When the
        timeouts are longer than the whole invocation, half of it is asked instead: otherwise no
        call could ever start, and a redelivery would have no more time than this one.
        """
        return self.deadline.allows(min(seconds, self.budget / 2))


def invocation(context: Any, settings: Settings, started: float, clock: Callable[[], float]) -> Invocation:
    """The invocation that ``context`` (FC's, or None) started at ``started`` (a ``clock`` reading).

    Parameters
    ----------
    context : Any
        FC's context object (its request id and function timeout are read), or None.
    settings : Settings
        ``idempotency_lock_seconds`` sets how long claims hold; 0 means until FC must have ended the call.
    started : float
        When the invocation started, on ``clock``'s scale.
    clock : Callable[[], float]
        The clock the deadline is measured with.

    Returns
    -------
    Invocation
        Its request id, deadline and lock expiry.
    """
    timeout = fc_context.function_timeout(context)
    margin = min(DEADLINE_MARGIN, timeout / 10)
    # FC has no remaining-time call: the lock lasts until FC must have ended this invocation.
    lock_seconds = settings.idempotency_lock_seconds or timeout + 1.0
    return Invocation(fc_context.request_id(context), Deadline(started + timeout - margin, clock), started + lock_seconds,
                      timeout - margin)
