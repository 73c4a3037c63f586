"""HTTP clients: VOD OpenAPI and the MNS topic publisher, over one pooled session."""

from .mns import MnsPublisher, mns_endpoint
from .session import new_session
from .vod import VodClient, vod_endpoint

__all__ = ["MnsPublisher", "VodClient", "mns_endpoint", "new_session", "vod_endpoint"]
