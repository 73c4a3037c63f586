"""Which region an event belongs to, and the media type's routing key. Pure functions.

Order: a region the envelope carries (CloudEvents ``aliyunregionid``, an MNS ARN, a ``region``
query parameter on the callback URL), then the OSS host of the file URL, then ``VODAI_REGION``,
then the FC context's region.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple
from urllib.parse import urlsplit

# oss-cn-shanghai.aliyuncs.com, bucket.oss-cn-shanghai-internal.aliyuncs.com, ...
_OSS_HOST = re.compile(r"(?:^|\.)oss-([a-z]{2,3}-[a-z0-9]+(?:-[a-z0-9]+)*?)(?:-internal)?\.aliyuncs\.com$")
# The common shape, matched without urlsplit: scheme://host/... with no userinfo or port.
_PLAIN_URL_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([A-Za-z0-9.-]+)(?:[/?#]|$)")


def region_from_url(url: Optional[str]) -> Optional[str]:
    """The storage region named by an OSS host (``oss-cn-shanghai`` is cn-shanghai)."""
    if not url:
        return None
    plain = _PLAIN_URL_HOST.match(url)
    if plain:
        host = plain.group(1)
    else:
        try:
            host = urlsplit(url.strip()).hostname or ""
        except ValueError:
            return None
    match = _OSS_HOST.search(host.lower())
    return match.group(1) if match else None


def resolve_region(
    *,
    envelope_region: Optional[str],
    envelope_source: Optional[str],
    file_url: Optional[str],
    configured_region: Optional[str],
    context_region: Optional[str],
) -> Tuple[Optional[str], str]:
    """(region, where it came from); (None, "none") when nothing names one."""
    candidates = (
        (envelope_region, f"envelope:{envelope_source or 'envelope'}"),
        (region_from_url(file_url), "file-url"),
        (configured_region, "VODAI_REGION"),
        (context_region, "fc-context"),
    )
    for region, source in candidates:
        if region:
            return region.strip().lower(), source
    return None, "none"
