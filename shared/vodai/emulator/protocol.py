"""The router: one entry point that sends each request to the protocol layer it speaks."""

from __future__ import annotations

from . import mns, vod
from .backend import EmulatorBackend
from .request import EmulatorRequest, EmulatorResponse

MNS_PATH_PREFIX = "/topics/"


def handle(backend: EmulatorBackend, request: EmulatorRequest) -> EmulatorResponse:
    """Serve one request: MNS for ``/topics/...``, VOD's RPC API for everything else."""
    if request.path.startswith(MNS_PATH_PREFIX):
        return mns.handle(backend, request)
    return vod.handle(backend, request)
