"""The router: one entry point that sends each request to the protocol layer it speaks.

It also draws the request's injected fault (:mod:`vodai.emulator.faults`) and applies its
latency before anything is processed; the protocol layer renders the rest of the fault.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from . import mns, vod
from .backend import EmulatorBackend
from .request import EmulatorRequest, EmulatorResponse

MNS_PATH_PREFIXES = ("/topics/", "/queues/")
MNS_PATH_PREFIX = MNS_PATH_PREFIXES[0]  # kept for callers of the single-prefix name


def handle(
    backend: EmulatorBackend,
    request: EmulatorRequest,
    *,
    sleep: Optional[Callable[[float], None]] = None,
) -> EmulatorResponse:
    """Serve one request: MNS for ``/topics/...`` and ``/queues/...``, VOD's RPC API for the rest.

    ``sleep`` waits out an injected latency (default ``time.sleep``; the requests adapter
    passes one that stops at the caller's read timeout).
    """
    layer = mns if request.path.startswith(MNS_PATH_PREFIXES) else vod
    with backend.serving():
        fault = backend.faults.draw(layer.operation(request))
        if fault is not None and fault.latency > 0:
            (sleep or time.sleep)(fault.latency)
        return layer.handle(backend, request, fault=fault)
