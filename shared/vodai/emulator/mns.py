"""MNS topics over XML: ``POST /topics/<name>/messages`` (PublishMessage), nothing else.

Codes, statuses and messages follow MNS's published error table. The body is stored exactly
as received: the Python SDK does not base64-encode topic messages, and a subscriber sees
what was published either way.
"""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import unquote
from xml.etree import ElementTree

from . import auth
from .backend import EmulatorBackend, new_request_id
from .errors import EmulatorError
from .request import EmulatorRequest, EmulatorResponse

XMLNS = "http://mns.aliyuncs.com/doc/v1/"
MESSAGE_BODY_MAX_BYTES = 65536
_MESSAGES_PATH = re.compile(r"^/topics/([^/]+)/messages$")
_MNS_HOST = re.compile(r"\.mns\.([a-z0-9-]+)\.aliyuncs\.com(?::\d+)?$", re.IGNORECASE)


def handle(backend: EmulatorBackend, request: EmulatorRequest) -> EmulatorResponse:
    request_id = new_request_id()
    host_match = _MNS_HOST.search(request.headers.get("Host", ""))
    region = host_match.group(1).lower() if host_match else backend.default_region
    path_match = _MESSAGES_PATH.match(request.path)
    topic = unquote(path_match.group(1)) if path_match else ""
    params: dict[str, Optional[str]] = {"TopicName": topic}
    access_key_id: Optional[str] = None
    try:
        if path_match is None or request.method != "POST":
            raise EmulatorError(400, "InvalidRequestURL", "Http request URL format invalid.")
        access_key_id = auth.verify_mns(backend, request)
        if not backend.has_topic(topic):
            raise EmulatorError(404, "TopicNotExist", "The topic name you provided is not exist.")
        body, tag = parse_message(request.body)
        params["MessageTag"] = tag
        message = backend.publish(topic, body, tag)
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
        action="PublishMessage",
        region=region,
        params=params,
        status=status,
        error_code=error_code,
        access_key_id=access_key_id,
    )
    return EmulatorResponse(
        status, {"Content-Type": "text/xml;charset=utf-8", "x-mns-request-id": request_id}, xml
    )


def parse_message(body: bytes) -> tuple[str, Optional[str]]:
    """(MessageBody, MessageTag or None) from a ``<Message>`` document."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise EmulatorError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    if _local_name(root.tag) != "Message":
        raise _schema_error("Message")
    fields = {_local_name(child.tag): child.text or "" for child in root}
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
