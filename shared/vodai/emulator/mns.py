"""MNS over XML: ``POST /topics/<name>/messages`` (PublishMessage) and
``POST /queues/<name>/messages`` (SendMessage), nothing else.

Codes, statuses and messages follow MNS's published error table. The body is stored exactly
as received: the Python SDK does not base64-encode topic messages (it does encode queue
messages by default), and a reader sees what was sent either way.
"""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import unquote
from xml.etree import ElementTree

from . import auth
from .backend import EmulatorBackend, new_request_id
from .errors import EmulatorError
from .faults import ERROR, LOST, RESET, Fault
from .request import ABORT_LOST, ABORT_RESET, EmulatorRequest, EmulatorResponse

XMLNS = "http://mns.aliyuncs.com/doc/v1/"
MESSAGE_BODY_MAX_BYTES = 65536
# MNS's limit on MessageTag (what subscription and trigger filters match): 16 characters.
# The code is MNS's parameter error; the wording is the emulator's.
MESSAGE_TAG_MAX_CHARS = 16
# SendMessage limits (MNS API reference): DelaySeconds 0..604800 (default 0), Priority 1..16
# (default 8, 1 is the highest).
MAX_DELAY_SECONDS = 604800
DEFAULT_PRIORITY = 8
_MESSAGES_PATH = re.compile(r"^/(topics|queues)/([^/]+)/messages$")
_MNS_HOST = re.compile(r"\.mns\.([a-z0-9-]+)\.aliyuncs\.com(?::\d+)?$", re.IGNORECASE)

PUBLISH_MESSAGE, SEND_MESSAGE = "PublishMessage", "SendMessage"


def operation(request: EmulatorRequest) -> str:
    """``SendMessage`` for anything under ``/queues/``, else ``PublishMessage``."""
    return SEND_MESSAGE if request.path.startswith("/queues/") else PUBLISH_MESSAGE


def handle(
    backend: EmulatorBackend, request: EmulatorRequest, *, fault: Optional[Fault] = None
) -> EmulatorResponse:
    """Serve one MNS request; ``fault`` as in :func:`vodai.emulator.vod.handle`."""
    request_id = new_request_id()
    host_match = _MNS_HOST.search(request.headers.get("Host", ""))
    region = host_match.group(1).lower() if host_match else backend.default_region
    action = operation(request)
    is_queue = action == SEND_MESSAGE
    path_match = _MESSAGES_PATH.match(request.path)
    name = unquote(path_match.group(2)) if path_match else ""
    params: dict[str, Optional[object]] = {"QueueName" if is_queue else "TopicName": name}
    if fault is not None and fault.kind == RESET:
        backend.record_request(
            service="mns", action=action, region=region, params=params, status=None, fault=fault
        )
        return EmulatorResponse(0, {}, b"", abort=ABORT_RESET)
    access_key_id: Optional[str] = None
    try:
        if fault is not None and fault.kind == ERROR:
            raise EmulatorError(*fault.rule.error_parts())
        if path_match is None or request.method != "POST":
            raise EmulatorError(400, "InvalidRequestURL", "Http request URL format invalid.")
        access_key_id = auth.verify_mns(backend, request)
        if is_queue:
            message = _send(backend, name, request.body, params)
        else:
            message = _publish(backend, name, request.body, params)
        status, error_code = 201, None
        xml = _xml("Message", MessageId=message["MessageId"], MessageBodyMD5=message["MessageBodyMD5"])
    except EmulatorError as err:
        status, error_code = err.status, err.code
        xml = _xml(
            "Error",
            Code=err.code,
            Message=err.message,
            RequestId=request_id,
            HostId=f"mns.{region}.aliyuncs.com",
        )
    backend.record_request(
        service="mns",
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
        {"Content-Type": "text/xml;charset=utf-8", "x-mns-request-id": request_id},
        xml,
        abort=ABORT_LOST if fault is not None and fault.kind == LOST else None,
    )


def _publish(backend: EmulatorBackend, topic: str, body: bytes, params: dict) -> dict:
    if not backend.has_topic(topic):
        raise EmulatorError(404, "TopicNotExist", "The topic name you provided is not exist.")
    root = _message_root(body)
    fields = _fields(root)
    text, tag = _body_and_tag(fields)
    params["MessageTag"] = tag
    if tag is not None and len(tag) > MESSAGE_TAG_MAX_CHARS:
        raise EmulatorError(
            400,
            "InvalidArgument",
            f"The length of MessageTag should be between 1 and {MESSAGE_TAG_MAX_CHARS} characters.",
        )
    return backend.publish(topic, text, tag, attributes=_attributes(root))


def _attributes(root: ElementTree.Element) -> Optional[dict]:
    """``<MessageAttributes>`` as nested dicts of element names to text (None without it)."""
    for child in root:
        if _local_name(child.tag) == "MessageAttributes":
            return _element_dict(child)
    return None


def _element_dict(element: ElementTree.Element) -> dict:
    out: dict = {}
    for child in element:
        out[_local_name(child.tag)] = _element_dict(child) if len(child) else (child.text or "")
    return out


def _send(backend: EmulatorBackend, queue: str, body: bytes, params: dict) -> dict:
    if not backend.has_queue(queue):
        raise EmulatorError(404, "QueueNotExist", "The queue name you provided is not exist.")
    fields = _fields(_message_root(body))
    text, _ = _body_and_tag(fields)
    delay = _bounded_int(fields, "DelaySeconds", 0, 0, MAX_DELAY_SECONDS)
    priority = _bounded_int(fields, "Priority", DEFAULT_PRIORITY, 1, 16)
    params.update(DelaySeconds=delay, Priority=priority)
    return backend.send_to_queue(queue, text, delay_seconds=delay, priority=priority)


def _bounded_int(fields: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = fields.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise EmulatorError(
            400, "InvalidArgument", f"The value of {name} should between {low} and {high}."
        )
    return value


def _message_root(body: bytes) -> ElementTree.Element:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise EmulatorError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    if _local_name(root.tag) != "Message":
        raise _schema_error("Message")
    return root


def _fields(root: ElementTree.Element) -> dict[str, str]:
    return {_local_name(child.tag): child.text or "" for child in root}


def _body_and_tag(fields: dict[str, str]) -> tuple[str, Optional[str]]:
    if "MessageBody" not in fields:
        raise _schema_error("MessageBody")
    size = len(fields["MessageBody"].encode("utf-8"))
    if not 1 <= size <= MESSAGE_BODY_MAX_BYTES:
        raise EmulatorError(
            400,
            "InvalidArgument",
            f"The value of MessageBody should between 1 and {MESSAGE_BODY_MAX_BYTES} bytes.",
        )
    return fields["MessageBody"], fields.get("MessageTag") or None


def _schema_error(element: str) -> EmulatorError:
    return EmulatorError(
        400,
        "InvalidArgument",
        f"The XML you provided did not validate against our published schema, cause by {element}.",
    )


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(root_name: str, **children: str) -> bytes:
    root = ElementTree.Element(root_name, xmlns=XMLNS)
    for name, text in children.items():
        ElementTree.SubElement(root, name).text = text
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
