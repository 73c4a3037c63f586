"""Which API errors are worth retrying: throttling, server errors and lost connections are;
parameter, permission and signature errors are not (the same request would fail again)."""

from __future__ import annotations

from typing import Optional

RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "Throttling.Resource",
        "ServiceUnavailable",
        "ServiceUnAvailable",
        "InternalError",
        "QpsLimitExceeded",
        "QPSLimitExceeded",
    }
)


def is_retryable(code: Optional[str], status: Optional[int]) -> bool:
    if code and (code in RETRYABLE_CODES or code.startswith("Throttling")):
        return True
    return status is not None and (status >= 500 or status == 429)
