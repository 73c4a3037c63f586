"""A failed invocation, answered the way FC's custom runtime expects.

Status 404 **and** header ``x-fc-status: 404`` (without that header FC counts the call as a
success), with the built-in runtime's body ``{"errorMessage", "errorType", "stackTrace"}``.

Nothing from the request is echoed (its headers carry the STS credentials), and the
invocation's own secrets are masked from the message and the stack as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any, Iterable

from werkzeug.wrappers import Response

from ..exceptions import VodaiError
from ..redaction import redact

FAILURE_STATUS = 404
_RUNTIME_DIR = str(Path(__file__).resolve().parent)

logger = logging.getLogger("vodai.runtime")


def secrets_of(context: Any) -> list:
    creds = getattr(context, "credentials", None)
    return [s for s in (getattr(creds, "access_key_secret", None), getattr(creds, "security_token", None)) if s]


def error_body(exc: BaseException, secrets: Iterable[str] = ()) -> dict:
    """FC's error shape; the stack holds only the function's frames, not the shim's, and none
    for an error vodai raises on purpose (a bad setting, a store that is down)."""
    secrets = list(secrets)
    if isinstance(exc, VodaiError):
        frames = []  # raised on purpose, its message says what and why: a stack would only bury it
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_RUNTIME_DIR)]
    return {
        "errorMessage": redact(str(exc), secrets),
        "errorType": type(exc).__name__,
        "stackTrace": [redact(line, secrets) for line in traceback.format_list(frames)],
    }


def failure_response(body: dict, status: int = FAILURE_STATUS) -> Response:
    """The response FC reads as a failed invocation, after logging the error in FC's style."""
    logger.error("%s: %s", body["errorType"], body["errorMessage"])
    if body["stackTrace"]:
        logger.error("Traceback (most recent call last):\n%s", "".join(body["stackTrace"]).rstrip("\n"))
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json; charset=utf-8",
        headers={"x-fc-status": str(status), "x-fc-error-type": "UnhandledInvocationError"},
    )


def failure(exc: BaseException, context: Any = None) -> Response:
    return failure_response(error_body(exc, secrets_of(context)))
