"""SubmitAIImageJob's UserData and image audit's MediaAuditConfiguration, checked before any call.

VOD allows only ``MessageCallback`` and ``Extend`` in UserData, at most 512 bytes, so the
upload's own Extend and the identity of the event that caused the job both go under ``Extend``.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .. import jsontext
from ..exceptions import ParameterError

USER_DATA_MAX_BYTES = 512
_RESOURCE_TYPE = re.compile(r"^[A-Za-z0-9_]+$")


def compact_json(value: Any) -> str:
    return jsontext.compact_sorted(value)


def build_user_data(*, upload_extend: Any, event_type: str, media_id: str, event_time: Optional[str], source_id: Optional[str]) -> str:
    source = {"EventType": event_type, "MediaId": media_id}
    if event_time:
        source["EventTime"] = event_time
    if source_id:
        source["MessageId"] = source_id
    extend: dict = {"vodai": source}
    if upload_extend not in (None, "", {}):
        extend["Upload"] = upload_extend
    user_data = compact_json({"Extend": extend})
    size = len(user_data.encode("utf-8"))
    if size > USER_DATA_MAX_BYTES:
        raise ParameterError(
            "UserData",
            f"{size} bytes, over VOD's limit of {USER_DATA_MAX_BYTES} (the upload's Extend is "
            f"{len(compact_json(upload_extend).encode('utf-8'))} bytes)",
        )
    return user_data


def media_audit_configuration(resource_type: Optional[str]) -> Optional[str]:
    if not resource_type:
        return None
    if not _RESOURCE_TYPE.match(resource_type):
        raise ParameterError(
            "MediaAuditConfiguration.ResourceType",
            f"{resource_type!r} may hold only letters, digits and underscores",
        )
    return compact_json({"ResourceType": resource_type})
