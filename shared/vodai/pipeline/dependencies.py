"""What the pipeline calls out to, passed in so tests and the emulator plug in without patching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import requests

from .. import credentials as creds
from ..clients.mns import MnsPublisher, mns_base_url
from ..clients.session import shared_session
from ..clients.vod import VodClient
from ..config import Settings
from ..routing.rules import RouteTable, load_table


@dataclass
class Dependencies:
    settings: Settings
    routes: RouteTable
    vod: VodClient
    publisher: MnsPublisher


def build(
    settings: Settings,
    *,
    context: Any = None,
    credentials: Optional[creds.Credentials] = None,
    session: Optional[requests.Session] = None,
    routes: Optional[RouteTable] = None,
) -> Dependencies:
    """Clients for one invocation: credentials change per call (STS), the session does not."""
    credentials = credentials or creds.resolve(context)
    session = session or shared_session()
    timeout = (settings.connect_timeout, settings.read_timeout)
    vod = VodClient(
        credentials,
        session,
        endpoint=settings.vod_endpoint,
        signature_version=settings.signature_version,
        timeout=timeout,
    )
    publisher = MnsPublisher(credentials, session, endpoint=mns_base_url(settings, context), timeout=timeout)
    return Dependencies(settings, routes or load_table(settings.routes), vod, publisher)
