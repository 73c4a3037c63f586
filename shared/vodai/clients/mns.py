"""MNS topic publisher: ``POST /topics/<name>/messages`` with the MNS signature."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING, Callable, List, Optional, Self, Sequence, Tuple
from urllib.parse import quote

import requests

from ..credentials import Credentials
from ..exceptions import MnsApiError, ParameterError
from ..redaction import redact
from ..signing import mns
from ..timestamps import http_date_now
from .errors import is_retryable
from .transport import prepared, send

if TYPE_CHECKING:
    from xml.etree import ElementTree

MNS_VERSION = "2015-06-06"
MAX_TAG_LENGTH = 16  # MNS: one filter tag per message, at most 16 characters
CONTENT_TYPE = "text/xml;charset=UTF-8"
_NS = "{http://mns.aliyuncs.com/doc/v1/}"


def mns_endpoint(account_id: str, region: str) -> str:
    return f"https://{account_id}.mns.{region}.aliyuncs.com"


def mns_base_url(settings, context=None) -> str:
    """The MNS base URL: ``VODAI_MNS_ENDPOINT``, else built from the account id and region
    (settings first, then the FC context). Shared by the pipeline and the callback hand-off."""
    from .. import context as fc_context
    from ..exceptions import ConfigError

    if settings.mns_endpoint:
        return settings.mns_endpoint
    account = settings.account_id or fc_context.account_id(context)
    region = settings.mns_region or fc_context.region(context) or settings.region
    if not account or not region:
        raise ConfigError("VODAI_MNS_ENDPOINT", "cannot build the MNS endpoint: set it, or VODAI_ACCOUNT_ID and VODAI_MNS_REGION")
    return mns_endpoint(account, region)


def escape(text: str) -> str:
    """XML character data: what ``xml.sax.saxutils.escape`` does, without importing ``xml.sax``
    (six modules, about 1 ms of a Python 3.10 cold start)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# A successful answer is one small fixed document: read its two values without building a tree.
_SENT = re.compile(rb"<MessageId>([^<]+)</MessageId>\s*<MessageBodyMD5>([^<]*)</MessageBodyMD5>")


def _text(root: ElementTree.Element, name: str) -> Optional[str]:
    node = root.find(_NS + name)
    if node is None:
        node = root.find(name)
    return node.text if node is not None else None


class _MnsClient:
    """What every MNS client has: credentials, a session, the endpoint, timeouts and the clock."""

    DEFAULT_TIMEOUT: Tuple[float, float] = (3.05, 10.0)

    def __init__(
        self,
        credentials: Credentials,
        session: requests.Session,
        *,
        endpoint: str,
        timeout: Optional[Tuple[float, float]] = None,
        clock: Callable[[], str] = http_date_now,
    ) -> None:
        self.credentials = credentials
        self.session = session
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout or self.DEFAULT_TIMEOUT
        self._clock = clock

    def renewed(self) -> Self:
        """A copy with a session of its own: for a forked process, which must never share the
        pooled connections (a request's bytes would interleave on one socket)."""
        from .session import new_session

        return type(self)(self.credentials, new_session(), endpoint=self.endpoint, timeout=self.timeout, clock=self._clock)

    def _error(self, response: requests.Response, root: Optional[ElementTree.Element], action: str) -> MnsApiError:
        """The MnsApiError of an error answer (``root``: its parsed XML, None if it had none)."""
        code = (root is not None and (_text(root, "Code") or _text(root, "ErrorCode"))) or f"HTTP{response.status_code}"
        message = (root is not None and (_text(root, "Message") or _text(root, "ErrorMessage"))) or response.reason or "no message"
        return MnsApiError(
            code,
            redact(message, self.credentials.secrets()),
            status=response.status_code,
            request_id=(root is not None and _text(root, "RequestId")) or response.headers.get("x-mns-request-id"),
            retryable=is_retryable(code, response.status_code),
            action=action,
        )


class MnsPublisher(_MnsClient):

    def prepare(self, topic: str, body: str, tag: Optional[str] = None) -> requests.PreparedRequest:
        """A signed PublishMessage request to ``topic``."""
        return self._prepare(f"/topics/{quote(topic, safe='')}/messages", body, tag)

    def _prepare(self, resource: str, body: str, tag: Optional[str]) -> requests.PreparedRequest:
        if tag and len(tag) > MAX_TAG_LENGTH:
            raise ParameterError("MessageTag", f"{tag!r} has {len(tag)} characters; MNS allows at most {MAX_TAG_LENGTH}")
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
            f"<MessageBody>{escape(body)}</MessageBody>"
            + (f"<MessageTag>{escape(tag)}</MessageTag>" if tag else "")
            + "</Message>"
        ).encode("utf-8")
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Content-MD5": base64.b64encode(hashlib.md5(xml).digest()).decode("ascii"),
            "Date": self._clock(),
            "x-mns-version": MNS_VERSION,
        }
        if self.credentials.security_token:
            # The header the official Python SDK sends with STS credentials (unsigned).
            headers["security-token"] = self.credentials.security_token
        headers["Authorization"] = mns.authorization(
            "POST",
            resource,
            headers,
            access_key_id=self.credentials.access_key_id,
            access_key_secret=self.credentials.access_key_secret,
        )
        return prepared("POST", self.endpoint + resource, headers, xml)

    def publish(self, topic: str, body: str, tag: Optional[str] = None, *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        """Publish ``body`` (text) with ``tag``; returns MessageId, MessageBodyMD5 and RequestId."""
        return self._send(self.prepare(topic, body, tag), "PublishMessage", timeout)

    def send_to_queue(self, queue: str, body: str, *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        """SendMessage to ``queue`` (used for dead letters)."""
        return self._send(self._prepare(f"/queues/{quote(queue, safe='')}/messages", body, None), "SendMessage", timeout)

    def _send(self, prepared: requests.PreparedRequest, action: str, timeout: Optional[Tuple[float, float]]) -> dict:
        response = send(self.session, prepared, timeout=timeout or self.timeout, action=action)
        request_id = response.headers.get("x-mns-request-id")
        sent = _SENT.search(response.content) if response.status_code in (200, 201) and response.content else None
        if sent:
            return {"MessageId": sent.group(1).decode(), "MessageBodyMD5": sent.group(2).decode(), "RequestId": request_id}
        # Errors and unusual answers only: the XML parser is not loaded on a cold start that needs none.
        from xml.etree import ElementTree

        try:
            root = ElementTree.fromstring(response.content) if response.content else None
        except ElementTree.ParseError:
            root = None
        if response.status_code >= 300 or root is None or _text(root, "MessageId") is None:
            raise self._error(response, root, action)
        return {
            "MessageId": _text(root, "MessageId"),
            "MessageBodyMD5": _text(root, "MessageBodyMD5"),
            "RequestId": request_id,
        }


#: MNS takes at most 16 messages (or receipt handles) per batch request.
MAX_BATCH = 16
_FIELD = re.compile(rb"<([A-Za-z]+)>([^<]*)</\1>")


class MnsQueueClient(_MnsClient):
    """The MNS queue message API: batch send, receive, delete and change visibility.

    Bodies are sent and read as text, not base64 (FC's queue trigger hands the body to the
    function as it is stored; the official SDK's default base64 would reach it encoded).
    """

    DEFAULT_TIMEOUT = (3.05, 35.0)  # a receive may wait up to 30 s (waitseconds)

    def batch_send(self, queue: str, bodies: Sequence[str]) -> List[dict]:
        """BatchSendMessage of ``bodies`` (1 to 16 texts) to ``queue``.

        Parameters
        ----------
        queue
            The queue's name.
        bodies
            The message bodies, sent as they are.

        Returns
        -------
        list of dict
            One per body, in order: ``MessageId`` and ``MessageBodyMD5`` when it was sent, else
            ``ErrorCode`` and ``ErrorMessage`` (MNS sends the others of a partial failure).

        Raises
        ------
        ParameterError
            No body, or more than 16.
        MnsApiError
            The whole request failed.
        """
        xml = _batch_xml("Messages", [f"<Message><MessageBody>{escape(b)}</MessageBody></Message>" for b in bodies],
                         "bodies")
        response = self._call("POST", self._messages(queue), xml, "BatchSendMessage")
        if response.status_code == 500 and b"<Messages" in response.content:
            return _items(response.content)  # a partial failure: some sent, some not
        self._raise_for(response, "BatchSendMessage", ok=(201,))
        return _items(response.content)

    def receive(self, queue: str, count: int = MAX_BATCH, *, wait_seconds: Optional[int] = None) -> List[dict]:
        """BatchReceiveMessage: up to ``count`` messages (each a dict of MNS's fields: MessageId,
        ReceiptHandle, MessageBody, DequeueCount, NextVisibleTime...); [] when none is visible."""
        query = f"numOfMessages={count}" + (f"&waitseconds={wait_seconds}" if wait_seconds is not None else "")
        response = self._call("GET", f"{self._messages(queue)}?{query}", b"", "BatchReceiveMessage")
        if response.status_code == 404 and b"MessageNotExist" in response.content:
            return []
        self._raise_for(response, "BatchReceiveMessage", ok=(200,))
        return _items(response.content)

    def delete(self, queue: str, receipt_handles: Sequence[str]) -> List[dict]:
        """BatchDeleteMessage; returns the handles that were not deleted (ReceiptHandle,
        ErrorCode, ErrorMessage: their visibility timeout had ended), [] when all were."""
        xml = _batch_xml("ReceiptHandles", [f"<ReceiptHandle>{escape(h)}</ReceiptHandle>" for h in receipt_handles],
                         "receipt_handles")
        response = self._call("DELETE", self._messages(queue), xml, "BatchDeleteMessage")
        if response.status_code == 404 and b"<Errors" in response.content:
            return _items(response.content)
        self._raise_for(response, "BatchDeleteMessage", ok=(204,))
        return []

    def change_visibility(self, queue: str, receipt_handle: str, seconds: int) -> dict:
        """ChangeMessageVisibility: the message is visible again ``seconds`` from now; returns
        its new ReceiptHandle and NextVisibleTime."""
        query = f"ReceiptHandle={quote(receipt_handle, safe='')}&VisibilityTimeout={int(seconds)}"
        response = self._call("PUT", f"{self._messages(queue)}?{query}", b"", "ChangeMessageVisibility")
        self._raise_for(response, "ChangeMessageVisibility", ok=(200,))
        return {k.decode(): v.decode() for k, v in _FIELD.findall(response.content)}

    @staticmethod
    def _messages(queue: str) -> str:
        return f"/queues/{quote(queue, safe='')}/messages"

    def _call(self, method: str, resource: str, body: bytes, action: str) -> requests.Response:
        headers = {"Date": self._clock(), "x-mns-version": MNS_VERSION}
        if body:
            headers["Content-Type"] = CONTENT_TYPE
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode("ascii")
        if self.credentials.security_token:
            headers["security-token"] = self.credentials.security_token
        headers["Authorization"] = mns.authorization(
            method, resource, headers,
            access_key_id=self.credentials.access_key_id, access_key_secret=self.credentials.access_key_secret,
        )
        return send(self.session, prepared(method, self.endpoint + resource, headers, body),
                    timeout=self.timeout, action=action)

    def _raise_for(self, response: requests.Response, action: str, *, ok: Tuple[int, ...]) -> None:
        if response.status_code in ok:
            return
        from xml.etree import ElementTree

        try:
            root = ElementTree.fromstring(response.content) if response.content else None
        except ElementTree.ParseError:
            root = None
        raise self._error(response, root, action)


def _batch_xml(root: str, elements: Sequence[str], argument: str) -> bytes:
    """A batch request's document: ``elements`` (1 to 16, else ParameterError naming ``argument``)."""
    if not 1 <= len(elements) <= MAX_BATCH:
        raise ParameterError(argument, f"{len(elements)} given; MNS takes 1 to {MAX_BATCH} per batch request")
    return (f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="http://mns.aliyuncs.com/doc/v1/">'
            + "".join(elements) + f"</{root}>").encode("utf-8")


def _items(content: bytes) -> List[dict]:
    """The ``<Message>`` or ``<Error>`` entries of a batch answer, each a dict of its fields."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(content)
    return [{child.tag.rsplit("}", 1)[-1]: child.text or "" for child in item} for item in root]
