"""Where vodai keeps local state (job records, dead letters, replay leftovers) when not told otherwise."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def state_dir() -> Path:
    """``./.vodai`` (easy to find beside your events), or the temp dir where the working directory
    is read-only, as ``/code`` is on Function Compute."""
    if os.access(os.getcwd(), os.W_OK):
        return Path(".vodai")
    return Path(tempfile.gettempdir()) / "vodai"
