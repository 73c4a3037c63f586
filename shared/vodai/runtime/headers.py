"""The FC invocation context, rebuilt from the ``x-fc-*`` headers of a custom-runtime request.

The result offers both shapes code may read: FC 2.0 (``credentials``, ``function``, ``service``)
and FC 3.0 (``log_project``/``log_store`` on the context itself). Without an AccessKey in the
headers there is no ``credentials`` object at all, as on FC 3.0.
"""

from __future__ import annotations

import uuid
from typing import Mapping, Optional, TypeVar, Union

from ..local_context import LocalContext, LocalCredentials, LocalFunction, LocalService

REQUEST_ID = "x-fc-request-id"
ACCESS_KEY_ID = "x-fc-access-key-id"
ACCESS_KEY_SECRET = "x-fc-access-key-secret"
SECURITY_TOKEN = "x-fc-security-token"
FUNCTION_NAME = "x-fc-function-name"
CONTROL_PATH = "x-fc-control-path"

# Every header FC adds for the runtime (fc-runtime.md). They describe the invocation, not the
# caller's request, so an HTTP function sees them only through environ["fc.context"].
FC_HEADERS = (
    REQUEST_ID,
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    SECURITY_TOKEN,
    FUNCTION_NAME,
    "x-fc-function-handler",
    "x-fc-function-memory",
    "x-fc-function-timeout",
    "x-fc-function-initializer",
    "x-fc-initialization-timeout",
    "x-fc-region",
    "x-fc-account-id",
    "x-fc-qualifier",
    "x-fc-version-id",
    "x-fc-service-name",
    "x-fc-service-logproject",
    "x-fc-service-logstore",
    "x-fc-retry-count",
    CONTROL_PATH,
)


_Default = TypeVar("_Default", int, None)


def _int(value: Optional[str], default: _Default) -> Union[int, _Default]:
    # FC sends numbers as header strings; a garbled one must not fail the invocation.
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def context_from_headers(headers: Mapping[str, str], function_name: Optional[str] = None) -> LocalContext:
    """A context from the request headers (any case); ``function_name`` when FC sends none."""
    h = {k.lower(): v for k, v in headers.items()}
    get = lambda name: h.get(name) or None  # noqa: E731 - empty header = absent

    credentials = None
    key_id, key_secret = get(ACCESS_KEY_ID), get(ACCESS_KEY_SECRET)
    if key_id and key_secret:
        credentials = LocalCredentials(key_id, key_secret, get(SECURITY_TOKEN))
    defaults = LocalFunction()
    function = LocalFunction(
        name=get(FUNCTION_NAME) or function_name or "",
        handler=get("x-fc-function-handler") or defaults.handler,
        memory=_int(get("x-fc-function-memory"), defaults.memory),
        timeout=_int(get("x-fc-function-timeout"), defaults.timeout),
        initializer=get("x-fc-function-initializer"),
        initialization_timeout=_int(get("x-fc-initialization-timeout"), None),
    )
    log_project = get("x-fc-service-logproject") or ""
    log_store = get("x-fc-service-logstore") or ""
    service = LocalService(
        name=get("x-fc-service-name") or "",
        log_project=log_project,
        log_store=log_store,
        qualifier=get("x-fc-qualifier") or "LATEST",
        version_id=get("x-fc-version-id") or "",
    )
    return LocalContext(
        # FC always sends one; a local client may not, and logs still need an id.
        request_id=get(REQUEST_ID) or str(uuid.uuid4()),
        # Empty when absent: vodai then falls back to its settings instead of a made-up region.
        region=get("x-fc-region") or "",
        account_id=get("x-fc-account-id") or "",
        credentials=credentials,
        function=function,
        service=service,
        retry_count=_int(get("x-fc-retry-count"), 0),
        log_project=log_project,
        log_store=log_store,
    )


def headers_from_context(context: LocalContext) -> dict:
    """The x-fc-* headers FC would send for ``context``: what a local client needs to drive the shim."""
    headers = {
        REQUEST_ID: context.request_id,
        FUNCTION_NAME: context.function.name,
        "x-fc-function-handler": context.function.handler,
        "x-fc-function-memory": str(context.function.memory),
        "x-fc-function-timeout": str(context.function.timeout),
        "x-fc-region": context.region or "",
        "x-fc-account-id": context.account_id or "",
        "x-fc-retry-count": str(context.retry_count),
    }
    if context.service is not None:
        headers.update({"x-fc-service-name": context.service.name, "x-fc-qualifier": context.service.qualifier})
    creds = context.credentials
    if creds is not None:
        headers[ACCESS_KEY_ID] = creds.access_key_id
        headers[ACCESS_KEY_SECRET] = creds.access_key_secret
        if creds.security_token:
            headers[SECURITY_TOKEN] = creds.security_token
    return headers
