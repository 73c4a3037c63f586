"""The exception tree of vodai.

    VodaiError
    ├── ConfigError           a setting is missing or invalid (names the setting)
    ├── EventError            an event cannot be read (names the field and the reason)
    ├── ParameterError        a request would break an API limit; raised before any call is made
    └── ApiError              a service answered with an error, or could not be reached
        ├── VodApiError       VOD OpenAPI error envelope (Code, Message, RequestId, HTTP status)
        ├── MnsApiError       MNS XML error envelope
        └── TransportError    timeout or connection failure (always retryable)

Every error's text is safe to log: no AccessKey secret, STS token, signature or callback
auth key is ever put into a message.
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
