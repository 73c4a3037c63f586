"""VOD's RPC-style OpenAPI (version 2017-03-21) over JSON: parameters, dispatch, envelopes."""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from . import auth
from .backend import EmulatorBackend, new_request_id
from .errors import EmulatorError, invalid_parameter, missing_parameter
from .faults import ERROR, LOST, RESET, Fault
from .request import ABORT_LOST, ABORT_RESET, EmulatorRequest, EmulatorResponse, parse_query_pairs
from .vod_actions import ACTIONS

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# A request sent to vod.<region>.aliyuncs.com (e.g. through a proxy) names its region there.
_VOD_HOST = re.compile(r"^vod\.([a-z0-9-]+)\.aliyuncs\.com(?::\d+)?$", re.IGNORECASE)


def request_pairs(request: EmulatorRequest) -> list[tuple[str, str]]:
    """Query pairs plus, for a form POST, the body's, as received: RPC V1 signs them together."""
    pairs = list(request.query_pairs)
    content_type = request.headers.get("Content-Type", "")
    if content_type.lower().startswith(FORM_CONTENT_TYPE) and request.body:
        pairs += parse_query_pairs(request.body.decode("utf-8", "replace"))
    return pairs


def request_params(request: EmulatorRequest) -> dict[str, str]:
    """:func:`request_pairs` as a dict (a repeated name is refused before any action runs)."""
    return dict(request_pairs(request))


def refuse_repeated(pairs: list[tuple[str, str]]) -> None:
    """Refuse a request that names a parameter twice.

    VOD documents nothing for this. A copy the client did not sign already fails the
    signature (both schemes sign the pairs as received); a request whose signature covers
    both copies is refused too, as InvalidParameter, since no one value can be taken
    without using a copy other than one verified.
    """
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise invalid_parameter(name, "It must be given once, not repeated.")
        seen.add(name)


def resolve_region(backend: EmulatorBackend, request: EmulatorRequest, params: dict[str, str]) -> str:
    """``RegionId`` param (legacy SDK), else the VOD host name, else the default region.

    The current official SDK sends no region at all: the endpoint's host is the region.
    """
    if params.get("RegionId"):
        return params["RegionId"]
    match = _VOD_HOST.match(request.headers.get("Host", ""))
    return match.group(1).lower() if match else backend.default_region


def _action(request: EmulatorRequest, params: dict[str, str]) -> str:
    return params.get("Action") or request.headers.get("x-acs-action", "")


def operation(request: EmulatorRequest) -> str:
    """The action a request calls: what fault rules match on."""
    return _action(request, request_params(request))


def handle(
    backend: EmulatorBackend, request: EmulatorRequest, *, fault: Optional[Fault] = None
) -> EmulatorResponse:
    """Serve one VOD request. ``fault`` (drawn by the router, latency already applied):
    ``error`` answers its code without processing anything (no job, nonce not recorded);
    ``reset`` returns an aborting response before anything is processed; ``lost`` processes
    the request, then returns an aborting response instead of the answer."""
    request_id = new_request_id()
    pairs = request_pairs(request)
    params = dict(pairs)
    action = _action(request, params)
    region = resolve_region(backend, request, params)
    if fault is not None and fault.kind == RESET:
        backend.record_request(
            service="vod", action=action, region=region, params=params, status=None, fault=fault
        )
        return EmulatorResponse(0, {}, b"", abort=ABORT_RESET)
    access_key_id: Optional[str] = None
    try:
        if fault is not None and fault.kind == ERROR:
            raise EmulatorError(*fault.rule.error_parts())
        access_key_id = auth.verify_vod(backend, request, pairs)
        refuse_repeated(pairs)
        payload = {"RequestId": request_id, **_dispatch(backend, action, region, params)}
        status, error_code = 200, None
    except EmulatorError as err:
        payload = error_envelope(err, request_id, region)
        status, error_code = err.status, err.code
    backend.record_request(
        service="vod",
        action=action,
        region=region,
        params=params,
        status=status,
        error_code=error_code,
        access_key_id=access_key_id,
        fault=fault,
    )
    return EmulatorResponse(
        status,
        {"Content-Type": "application/json;charset=utf-8", "x-acs-request-id": request_id},
        json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        abort=ABORT_LOST if fault is not None and fault.kind == LOST else None,
    )


def _dispatch(
    backend: EmulatorBackend, action: str, region: str, params: dict[str, str]
) -> dict[str, Any]:
    if not action:
        raise missing_parameter("Action")
    run = ACTIONS.get(action)
    if run is None:
        raise EmulatorError(
            404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
        )
    if not backend.serves(region, action):
        # Unconfirmed code: VOD's docs do not say what a region without the action returns.
        raise EmulatorError(
            403,
            "Forbidden.RegionNotSupported",
            f"The action {action} is not supported in the region {region}.",
        )
    backend.tick()  # jobs whose time has come finish before anyone looks at them
    return run(backend, params, region)


def error_envelope(err: EmulatorError, request_id: str, region: str) -> dict[str, str]:
    """Alibaba's OpenAPI error body, key for key."""
    return {
        "RequestId": request_id,
        "HostId": f"vod.{region}.aliyuncs.com",
        "Code": err.code,
        "Message": err.message,
        "Recommend": f"https://next.api.aliyun.com/troubleshoot?q={err.code}&product=vod",
    }
