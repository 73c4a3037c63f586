"""The x-fc-* headers FC sends with every custom-runtime request, for the tests to send."""

from __future__ import annotations

from typing import Optional


def fc_headers(
    request_id: str,
    access_key_id: Optional[str] = None,
    access_key_secret: Optional[str] = None,
    security_token: Optional[str] = None,
    function: str = "on_upload",
    **extra: str,
) -> dict:
    headers = {
        "x-fc-request-id": request_id,
        "x-fc-function-name": function,
        "x-fc-function-handler": "index.handler",
        "x-fc-function-memory": "512",
        "x-fc-function-timeout": "60",
        "x-fc-region": "cn-hangzhou",
        "x-fc-account-id": "1234567890123456",
        "x-fc-service-name": "vodai",
        "x-fc-service-logproject": "vodai-logs",
        "x-fc-service-logstore": "function-logs",
        "x-fc-qualifier": "LATEST",
        "x-fc-version-id": "",
        "x-fc-retry-count": "0",
    }
    if access_key_id is not None:
        headers["x-fc-access-key-id"] = access_key_id
    if access_key_secret is not None:
        headers["x-fc-access-key-secret"] = access_key_secret
    if security_token is not None:
        headers["x-fc-security-token"] = security_token
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return headers
