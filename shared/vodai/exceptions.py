"""Every exception class of vodai, in one tree (as httpx keeps ``_exceptions.py``).

    VodaiError                    raised on purpose: its message says what and why (no traceback shown)
    ├── ConfigError               a setting is missing or invalid (names the setting)
    │   ├── StoreUrlError         VODAI_IDEMPOTENCY_STORE cannot be opened
    │   ├── TrackingUrlError      VODAI_TRACKING_STORE cannot be opened
    │   └── SinkUrlError          VODAI_DEAD_LETTERS cannot be opened
    ├── EventError                an event cannot be read (names the field and the reason)
    ├── ParameterError            a request would break an API limit; raised before any call is made
    ├── ApiError                  a service answered with an error, or could not be reached
    │   ├── VodApiError           VOD OpenAPI error envelope (Code, Message, RequestId, HTTP status)
    │   ├── MnsApiError           MNS XML error envelope
    │   └── TransportError        timeout or connection failure (always retryable)
    ├── IdempotencyError          the idempotency store failed (retryable: the platform redelivers)
    ├── TrackingError             the tracking store failed (retryable)
    ├── DeadLetterError           a dead letter could not be written (retryable)
    ├── CallbackAuthError         a VOD HTTP callback failed authentication
    ├── HandoffError              a callback could not be handed off to the events topic
    ├── InvocationFailed          on_upload: an event hit a retryable error, so FC redelivers
    ├── PollFailed                track_jobs: no VOD call of the poll worked
    ├── BackfillError             ``vodai backfill`` cannot start: a bad window or media list (names the option)
    ├── FanOutError               ``--to-queue``: the sending process ended without answering
    │   └── CheckpointError       a ``--checkpoint FILE`` of another run, in use, or unwritable
    └── InvocationError           ``vodai invoke --via-http``: the function failed without a result

    Outside VodaiError, each a subclass of the built-in error its callers already catch:
    UncertainSubmit (Exception)   a submit may have created a job whose JobId never reached us
    TakenOver (Exception)         another invocation took the job key over after this one's lock ran out
    PackagingError (Exception)    ``vodai package`` could not build the package
    SourceError (Exception)       a replay input path does not exist
    FunctionNotFound (LookupError) the runtime shim has no such function
    RedisUrlError (ValueError)    a Redis URL redis-py cannot use
    EmulatorSpecError (ValueError) an emulator fault, lifecycle or callback spec cannot be used
    ├── FaultSpecError
    ├── LifecycleSpecError
    └── CallbackSpecError

The emulator's wire errors (``vodai.emulator.errors.EmulatorError``, rendered as a VOD or MNS error
envelope, and the server's connection aborts) stay in ``vodai.emulator``: they are the emulated
services' protocol, not errors of vodai.

Every error's text is safe to log: no AccessKey secret, STS token, signature, Redis password or
callback auth key is ever put into a message.
"""

from __future__ import annotations

from typing import Optional


class VodaiError(Exception):
    """Base class of every error vodai raises on purpose."""


class ConfigError(VodaiError):
    """A setting is missing or invalid."""

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}")


class EventError(VodaiError, ValueError):
    """An event, or the envelope around it, cannot be read."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ParameterError(VodaiError, ValueError):
    """A request parameter breaks a documented limit; caught before the request is sent."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


class ApiError(VodaiError):
    """A service call failed. ``retryable`` says whether trying again can help."""

    service = "api"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: Optional[int] = None,
        request_id: Optional[str] = None,
        retryable: bool = False,
        action: Optional[str] = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.retryable = retryable
        self.action = action
        where = f"{self.service} {action}" if action else self.service
        super().__init__(
            f"{where} failed: {code} (HTTP {status}, RequestId {request_id}): {message}"
        )

    def to_dict(self) -> dict:
        return {
            "Service": self.service,
            "Action": self.action,
            "Code": self.code,
            "Message": self.message,
            "HttpStatus": self.status,
            "RequestId": self.request_id,
            "Retryable": self.retryable,
        }


class VodApiError(ApiError):
    service = "vod"


class MnsApiError(ApiError):
    service = "mns"


class TransportError(ApiError):
    """Timeout or connection failure. Always retryable; ``ambiguous`` when the request may have
    reached the service and been processed (a read timeout, a connection lost after sending)."""

    service = "http"

    def __init__(self, message: str, *, action: Optional[str] = None, ambiguous: bool = True) -> None:
        super().__init__("TransportError", message, retryable=True, action=action)
        self.ambiguous = ambiguous

    def to_dict(self) -> dict:
        return {**super().to_dict(), "Ambiguous": self.ambiguous}


# -- stores and sinks ----------------------------------------------------------------------------


class IdempotencyError(VodaiError):
    """The idempotency store could not be read or written; retryable (the platform redelivers)."""

    retryable = True


class StoreUrlError(ConfigError):
    """``VODAI_IDEMPOTENCY_STORE`` is not a URL vodai can open."""

    def __init__(self, reason: str) -> None:
        super().__init__("VODAI_IDEMPOTENCY_STORE", reason)


class TrackingError(VodaiError):
    """The tracking store could not be read or written; retryable."""

    retryable = True


class TrackingUrlError(ConfigError):
    """``VODAI_TRACKING_STORE`` (or the idempotency store URL it defaults to) is not a URL vodai can open."""

    def __init__(self, reason: str) -> None:
        super().__init__("VODAI_TRACKING_STORE", reason)


class DeadLetterError(VodaiError):
    """A dead letter could not be written: the event must not be acknowledged (retryable)."""

    retryable = True


class SinkUrlError(ConfigError):
    """``VODAI_DEAD_LETTERS`` is not a URL vodai can open."""

    def __init__(self, reason: str) -> None:
        super().__init__("VODAI_DEAD_LETTERS", reason)


class RedisUrlError(ValueError):
    """A Redis URL cannot be used; the message never quotes it (it may hold a password)."""


# -- the functions -------------------------------------------------------------------------------


class InvocationFailed(VodaiError):
    """Raised so the platform redelivers: at least one event hit a retryable error."""


class PollFailed(VodaiError):
    """Raised so FC records a failed invocation: no VOD call of this poll worked."""


class UncertainSubmit(Exception):
    """The submit may have created a job whose JobId never reached us."""


class TakenOver(Exception):
    """Another invocation claimed the job key after this one's lock ran out (internal to the
    pipeline: the event ends as a retryable ``failed`` outcome)."""


class CallbackAuthError(VodaiError):
    """A callback failed authentication; ``reason`` says why (and holds no secret)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class HandoffError(VodaiError):
    """The event could not be handed off; ``reason`` is safe to log and to answer with."""

    def __init__(self, reason: str, *, budget_exhausted: bool = False) -> None:
        self.reason = reason
        self.budget_exhausted = budget_exhausted
        super().__init__(reason)


# -- the local toolkit ---------------------------------------------------------------------------


class InvocationError(VodaiError):
    """The function failed without a result to show (its error is the message)."""


class PackagingError(Exception):
    """The package could not be built (the message says which step, e.g. pip's download)."""


class SourceError(Exception):
    """An input path that does not exist (a usage error: nothing has run yet)."""


class BackfillError(VodaiError):
    """A backfill that cannot start: a bad window or media list (the message names the option)."""


class FanOutError(VodaiError):
    """A fan-out that cannot go on: its sending process ended without an answer, or a
    checkpoint that cannot be used (:class:`CheckpointError`)."""


class CheckpointError(FanOutError):
    """A ``--checkpoint FILE`` that cannot be used: another run's, in use, or unwritable (the
    message names the file and the fix)."""


class FunctionNotFound(LookupError):
    """The requested function is not in the registry (or its file is missing)."""


class EmulatorSpecError(ValueError):
    """An emulator setting that cannot be used; the message says what to write instead."""


class FaultSpecError(EmulatorSpecError):
    """A fault rule or spec that cannot be used; the message says what to write instead."""


class LifecycleSpecError(EmulatorSpecError):
    """A lifecycle rule or spec that cannot be used; the message says what to write instead."""


class CallbackSpecError(EmulatorSpecError):
    """A callback or trigger setting that cannot be used; the message says why."""
