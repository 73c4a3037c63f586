"""MNS over XML: ``POST /topics/<name>/messages`` (PublishMessage) and the queue message API
on ``/queues/<name>/messages``: ``POST`` SendMessage (``<Message>``) and BatchSendMessage
(``<Messages>``, at most 16), ``GET`` ReceiveMessage and BatchReceiveMessage (``numOfMessages``,
``waitseconds``), ``DELETE`` DeleteMessage (``ReceiptHandle``) and BatchDeleteMessage
(``<ReceiptHandles>``), ``PUT`` ChangeMessageVisibility. The state is the backend's
(:meth:`EmulatorBackend.receive_from_queue` and the rest); this module is only the wire format.

Codes, statuses and messages follow MNS's published error table. The body is stored exactly
as received: the Python SDK does not base64-encode topic messages (it does encode queue
messages by default), and a reader sees what was sent either way.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Optional
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

# Batch operations: at most 16 messages or receipt handles per request; a receive waits at
# most 30 seconds for a message (waitseconds); ChangeMessageVisibility takes 1..43200 seconds.
MAX_BATCH = 16
MAX_WAIT_SECONDS = 30
MAX_VISIBILITY_TIMEOUT = 43200
# How often a long-polling receive looks at the queue again.
POLL_INTERVAL = 0.05

PUBLISH_MESSAGE, SEND_MESSAGE = "PublishMessage", "SendMessage"
BATCH_SEND_MESSAGE = "BatchSendMessage"
RECEIVE_MESSAGE, BATCH_RECEIVE_MESSAGE = "ReceiveMessage", "BatchReceiveMessage"
DELETE_MESSAGE, BATCH_DELETE_MESSAGE = "DeleteMessage", "BatchDeleteMessage"
CHANGE_MESSAGE_VISIBILITY = "ChangeMessageVisibility"
_QUEUE_METHODS = ("GET", "POST", "PUT", "DELETE")
_NOT_EXIST = (404, "MessageNotExist", "Message not exist.")


def operation(request: EmulatorRequest) -> str:
    """The MNS action a request calls: ``PublishMessage`` under ``/topics/``; under ``/queues/``
    the queue action its method, query and body name."""
    if not request.path.startswith("/queues/"):
        return PUBLISH_MESSAGE
    if request.method == "GET":
        return BATCH_RECEIVE_MESSAGE if "numOfMessages" in request.query else RECEIVE_MESSAGE
    if request.method == "DELETE":
        return DELETE_MESSAGE if "ReceiptHandle" in request.query else BATCH_DELETE_MESSAGE
    if request.method == "PUT":
        return CHANGE_MESSAGE_VISIBILITY
    return BATCH_SEND_MESSAGE if b"<Messages" in request.body[:256] else SEND_MESSAGE


def handle(
    backend: EmulatorBackend,
    request: EmulatorRequest,
    *,
    fault: Optional[Fault] = None,
    sleep: Callable[[float], None] = time.sleep,
) -> EmulatorResponse:
    """Serve one MNS request; ``fault`` as in :func:`vodai.emulator.vod.handle`; ``sleep``
    waits between looks at an empty queue during a long-polling receive."""
    request_id = new_request_id()
    host_match = _MNS_HOST.search(request.headers.get("Host", ""))
    region = host_match.group(1).lower() if host_match else backend.default_region
    action = operation(request)
    is_queue = action != PUBLISH_MESSAGE
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
        allowed = _QUEUE_METHODS if is_queue else ("POST",)
        if path_match is None or request.method not in allowed:
            raise EmulatorError(400, "InvalidRequestURL", "Http request URL format invalid.")
        access_key_id = auth.verify_mns(backend, request)
        if is_queue and action != SEND_MESSAGE:
            status, xml = _QUEUE_ACTIONS[action](backend, name, request, params, sleep)
        else:
            if is_queue:
                message = _send(backend, name, request.body, params)
            else:
                message = _publish(backend, name, request.body, params)
            xml = _xml("Message", MessageId=message["MessageId"], MessageBodyMD5=message["MessageBodyMD5"])
            status = 201
        error_code = None if status < 300 else _first_error_code(xml)
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
    _require_queue(backend, queue)
    fields = _fields(_message_root(body))
    delay, priority, text = _queue_message(fields)
    params.update(DelaySeconds=delay, Priority=priority)
    return backend.send_to_queue(queue, text, delay_seconds=delay, priority=priority)


def _require_queue(backend: EmulatorBackend, queue: str) -> None:
    if not backend.has_queue(queue):
        raise EmulatorError(404, "QueueNotExist", "The queue name you provided is not exist.")


def _queue_message(fields: dict[str, str]) -> tuple[int, int, str]:
    text, _ = _body_and_tag(fields)
    delay = _bounded_int(fields, "DelaySeconds", 0, 0, MAX_DELAY_SECONDS)
    priority = _bounded_int(fields, "Priority", DEFAULT_PRIORITY, 1, 16)
    return delay, priority, text


Answer = tuple[int, bytes]


def _batch_send(backend: EmulatorBackend, queue: str, request: EmulatorRequest, params: dict, _sleep) -> Answer:
    """Every valid message is sent; with any invalid one the answer is 500 and lists, in order,
    each message's MessageId or its ErrorCode and ErrorMessage (as MNS answers a partial failure)."""
    _require_queue(backend, queue)
    root = _root(request.body, "Messages")
    messages = [child for child in root if _local_name(child.tag) == "Message"]
    if not 1 <= len(messages) <= MAX_BATCH:
        raise EmulatorError(400, "InvalidArgument", f"The count of Messages should between 1 and {MAX_BATCH}.")
    params["Count"] = len(messages)
    entries: list[dict[str, str]] = []
    for element in messages:
        try:
            delay, priority, text = _queue_message(_fields(element))
        except EmulatorError as err:
            entries.append({"ErrorCode": err.code, "ErrorMessage": err.message})
            continue
        sent = backend.send_to_queue(queue, text, delay_seconds=delay, priority=priority)
        entries.append({"MessageId": sent["MessageId"], "MessageBodyMD5": sent["MessageBodyMD5"]})
    status = 500 if any("ErrorCode" in e for e in entries) else 201
    return status, _xml_list("Messages", "Message", entries)


def _receive(backend: EmulatorBackend, queue: str, request: EmulatorRequest, params: dict, sleep) -> Answer:
    _require_queue(backend, queue)
    batch = "numOfMessages" in request.query
    count = _bounded_int(request.query, "numOfMessages", 1, 1, MAX_BATCH) if batch else 1
    wait = _bounded_int(request.query, "waitseconds", 0, 0, MAX_WAIT_SECONDS)
    params.update(Count=count, WaitSeconds=wait)
    deadline = time.monotonic() + wait
    received = backend.receive_from_queue(queue, count)
    while not received and time.monotonic() < deadline:
        sleep(POLL_INTERVAL)
        received = backend.receive_from_queue(queue, count)
    if not received:
        raise EmulatorError(*_NOT_EXIST)
    entries = [_received_entry(m) for m in received]
    if batch:
        return 200, _xml_list("Messages", "Message", entries)
    return 200, _xml("Message", **entries[0])


def _received_entry(message: dict) -> dict[str, str]:
    return {
        "MessageId": message["MessageId"],
        "ReceiptHandle": message["ReceiptHandle"],
        "MessageBodyMD5": message["MessageBodyMD5"],
        "MessageBody": message["MessageBody"],
        "EnqueueTime": str(message["EnqueueTime"]),
        "NextVisibleTime": str(message["NextVisibleTime"]),
        "FirstDequeueTime": str(message["FirstDequeueTime"]),
        "DequeueCount": str(message["DequeueCount"]),
        "Priority": str(message["Priority"]),
    }


def _delete(backend: EmulatorBackend, queue: str, request: EmulatorRequest, params: dict, _sleep) -> Answer:
    _require_queue(backend, queue)
    handle = _receipt_handle(request.query.get("ReceiptHandle", ""))
    params["ReceiptHandle"] = handle
    if not backend.delete_from_queue(queue, handle):
        raise EmulatorError(*_NOT_EXIST)
    return 204, b""


def _batch_delete(backend: EmulatorBackend, queue: str, request: EmulatorRequest, params: dict, _sleep) -> Answer:
    """Every handle that names a message is deleted; the others are listed in a 404 answer's
    ``<Errors>`` with their ErrorCode, ErrorMessage and ReceiptHandle."""
    _require_queue(backend, queue)
    root = _root(request.body, "ReceiptHandles")
    handles = [child.text or "" for child in root if _local_name(child.tag) == "ReceiptHandle"]
    if not 1 <= len(handles) <= MAX_BATCH:
        raise EmulatorError(400, "InvalidArgument", f"The count of ReceiptHandles should between 1 and {MAX_BATCH}.")
    params["Count"] = len(handles)
    errors = []
    for handle in handles:
        if not handle.strip():
            errors.append({"ErrorCode": "ReceiptHandleError", "ErrorMessage": "The receipt handle you provide is not valid.",
                           "ReceiptHandle": handle})
        elif not backend.delete_from_queue(queue, handle):
            errors.append({"ErrorCode": _NOT_EXIST[1], "ErrorMessage": _NOT_EXIST[2], "ReceiptHandle": handle})
    if errors:
        return 404, _xml_list("Errors", "Error", errors)
    return 204, b""


def _change_visibility(backend: EmulatorBackend, queue: str, request: EmulatorRequest, params: dict, _sleep) -> Answer:
    _require_queue(backend, queue)
    handle = _receipt_handle(request.query.get("ReceiptHandle", ""))
    if "VisibilityTimeout" not in request.query:
        raise EmulatorError(400, "InvalidArgument", "The VisibilityTimeout parameter is required.")
    seconds = _bounded_int(request.query, "VisibilityTimeout", 0, 1, MAX_VISIBILITY_TIMEOUT)
    params.update(ReceiptHandle=handle, VisibilityTimeout=seconds)
    changed = backend.change_visibility(queue, handle, seconds)
    if changed is None:
        raise EmulatorError(*_NOT_EXIST)
    return 200, _xml("ChangeVisibility", ReceiptHandle=changed["ReceiptHandle"],
                     NextVisibleTime=str(changed["NextVisibleTime"]))


def _receipt_handle(handle: str) -> str:
    if not handle.strip():
        raise EmulatorError(400, "ReceiptHandleError", "The receipt handle you provide is not valid.")
    return handle


_QUEUE_ACTIONS = {
    BATCH_SEND_MESSAGE: _batch_send,
    RECEIVE_MESSAGE: _receive,
    BATCH_RECEIVE_MESSAGE: _receive,
    DELETE_MESSAGE: _delete,
    BATCH_DELETE_MESSAGE: _batch_delete,
    CHANGE_MESSAGE_VISIBILITY: _change_visibility,
}


def _first_error_code(xml: bytes) -> Optional[str]:
    """The first ErrorCode of a batch answer (what the request log records as its error)."""
    match = re.search(rb"<ErrorCode>([^<]*)</ErrorCode>", xml)
    return match.group(1).decode() if match else None


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
    return _root(body, "Message")


def _root(body: bytes, name: str) -> ElementTree.Element:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise EmulatorError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    if _local_name(root.tag) != name:
        raise _schema_error(name)
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


def _xml_list(root_name: str, item_name: str, items: list[dict[str, str]]) -> bytes:
    root = ElementTree.Element(root_name, xmlns=XMLNS)
    for item in items:
        element = ElementTree.SubElement(root, item_name)
        for name, text in item.items():
            ElementTree.SubElement(element, name).text = text
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _xml(root_name: str, **children: str) -> bytes:
    root = ElementTree.Element(root_name, xmlns=XMLNS)
    for name, text in children.items():
        ElementTree.SubElement(root, name).text = text
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
