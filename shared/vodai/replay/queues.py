"""MNS queues for replay: the client of the queue a replay drains (``mns-queue://NAME``) or fans
out to (``--to-queue NAME``).

Without ``cloud`` the queue is a running ``vodai emulator``'s (``emulator_url``, signed with the
credentials of the standard chain, which the emulator was started with); with ``cloud`` it is the
configured MNS endpoint (``VODAI_MNS_ENDPOINT``, else built from the account id and region).
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

from ..clients.mns import MnsQueueClient

#: A replay source naming an MNS queue to drain.
QUEUE_SCHEME = "mns-queue://"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:9100"


def queue_name(source: str) -> Optional[str]:
    """The queue name of an ``mns-queue://NAME`` source; None for any other source."""
    if not source.startswith(QUEUE_SCHEME):
        return None
    return source[len(QUEUE_SCHEME):].strip("/") or None


def open_queue_client(*, cloud: bool = False, profile: Optional[str] = None,
                      emulator_url: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> MnsQueueClient:
    """The queue client for a replay.

    Parameters
    ----------
    cloud
        The configured MNS endpoint instead of the running emulator.
    profile
        A profile of ``~/.aliyun/config.json`` to take the credentials from.
    emulator_url
        The running emulator (default ``VODAI_EMULATOR_URL``, else http://127.0.0.1:9100).
    environ
        The environment to read settings and credentials from (default ``os.environ``).

    Returns
    -------
    MnsQueueClient

    Raises
    ------
    ConfigError
        The endpoint cannot be built, or no credentials are found.
    """
    from ..clients.mns import mns_base_url
    from ..clients.session import new_session
    from ..config import Settings
    from ..credential_chain import credentials_source

    env = os.environ if environ is None else environ
    if cloud:
        endpoint = mns_base_url(Settings.from_env(env))
    else:
        endpoint = emulator_url or env.get("VODAI_EMULATOR_URL") or DEFAULT_EMULATOR_URL
    credentials = credentials_source(profile, environ=env)()
    return MnsQueueClient(credentials, new_session(), endpoint=endpoint)
