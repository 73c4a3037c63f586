"""What an FC MNS queue trigger (EventBridge, source MNS) hands the function: a JSON list of
CloudEvents, one per queue message, key for key as ``events/cloudevent-batch`` shows them:

``id``, ``source`` (``acs:mns``), ``specversion`` (``1.0``), ``type`` (``mns:Queue:SendMessage``),
``subject`` (``acs:mns:<region>:<account>:queues/<queue>``), ``time`` (when the message was sent),
``datacontenttype``, ``data`` (camelCase ``requestId``, ``messageId``, ``messageBody``: the body as
sent, not base64-decoded, as template.yml's ``IsBase64Decode: false``), ``aliyunaccountid``,
``aliyunregionid``, ``aliyuneventbusname``, ``aliyunpublishtime``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Mapping, Sequence

SOURCE = "acs:mns"
TYPE = "mns:Queue:SendMessage"
CONTENT_TYPE = "application/json;charset=utf-8"


def iso_time(epoch_ms: float) -> str:
    """``2024-04-10T01:37:15.123Z`` (UTC, milliseconds), the CloudEvents' time style."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def queue_cloudevents(
    messages: Sequence[Mapping[str, Any]],
    *,
    queue: str,
    region: str,
    account_id: str,
    event_bus: str,
    now_ms: float,
) -> list[dict[str, Any]]:
    """The CloudEvents of received queue ``messages`` (the backend's message dicts).

    Parameters
    ----------
    messages : sequence of mapping
        Received messages: ``MessageId``, ``MessageBody``, ``EnqueueTime`` (epoch ms).
    queue, region, account_id : str
        Where the messages come from (``subject``, ``aliyunregionid``, ``aliyunaccountid``).
    event_bus : str
        ``aliyuneventbusname``: the trigger's name.
    now_ms : float
        The emulator clock, epoch ms (``aliyunpublishtime``).

    Returns
    -------
    list of dict
        One CloudEvent per message, in order.
    """
    request_id = uuid.uuid4().hex[:24].upper()  # one BatchReceiveMessage request
    published = iso_time(now_ms)
    return [
        {
            "id": str(uuid.uuid4()),
            "source": SOURCE,
            "specversion": "1.0",
            "type": TYPE,
            "subject": f"acs:mns:{region}:{account_id}:queues/{queue}",
            "time": iso_time(message["EnqueueTime"]),
            "datacontenttype": CONTENT_TYPE,
            "data": {
                "requestId": request_id,
                "messageId": message["MessageId"],
                "messageBody": message["MessageBody"],
            },
            "aliyunaccountid": account_id,
            "aliyunregionid": region,
            "aliyuneventbusname": event_bus,
            "aliyunpublishtime": published,
        }
        for message in messages
    ]


def payload(events: Sequence[Mapping[str, Any]]) -> bytes:
    """The invocation's body: the events as compact UTF-8 JSON."""
    return json.dumps(list(events), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


__all__ = ["CONTENT_TYPE", "SOURCE", "TYPE", "iso_time", "payload", "queue_cloudevents"]
