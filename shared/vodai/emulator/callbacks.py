"""Where the emulated VOD delivers its events, and which functions a topic triggers.

:class:`CallbackConfig` is VOD's event notification setting (console or SetMessageCallback):
one per region, plus a default for every region without its own. Either

* ``http``: POST the event JSON to ``url``, signed with ``X-VOD-TIMESTAMP`` /
  ``X-VOD-SIGNATURE`` when ``auth_key`` is set (VOD: at most 32 characters, letters and
  digits); or
* ``mns``: write the event JSON as a message into one of the emulator's own queues (VOD's
  documented reliable option) or topics (not documented for VOD, offered so that a topic
  trigger can run the function).

``event_types`` optionally limits which events are sent (VOD's console lets you pick them);
None sends all.

:class:`Subscription` is an FC MNS topic trigger: every message published to ``topic`` (by
anyone: VOD's delivery, vodai's own PublishMessage, the control API) is sent to
``POST <url>/invoke`` of a ``vodai serve`` shim, in the trigger's ``STREAM`` or ``JSON`` format.
Its spec (``--trigger``)::

    TOPIC=URL[,format=STREAM|JSON][,function=NAME][,name=SUBSCRIPTION][,tag=FILTER_TAG]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional, Sequence, Union

from ..exceptions import CallbackSpecError

HTTP, MNS = "http", "mns"
QUEUE, TOPIC = "queue", "topic"
STREAM, JSON_FORMAT = "STREAM", "JSON"
FORMATS = (STREAM, JSON_FORMAT)
DEFAULT_REGION = "*"
_AUTH_KEY = re.compile(r"^[A-Za-z0-9]{1,32}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,255}$")


def check_url(url: Any, what: str) -> str:
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise CallbackSpecError(f"{what} {url!r}: must be an http:// or https:// URL")
    return url


def check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise CallbackSpecError(f"{what} {name!r}: letters, digits and '-', starting with a letter or digit")
    return name


@dataclass(frozen=True)
class CallbackConfig:
    kind: str
    url: Optional[str] = None
    auth_key: Optional[str] = None
    target: Optional[str] = None  # mns: "queue" or "topic"
    name: Optional[str] = None  # mns: the queue or topic name
    event_types: Optional[tuple[str, ...]] = None

    def __post_init__(self) -> None:
        if self.kind == HTTP:
            check_url(self.url, "callback URL")
            if self.auth_key is not None and not _AUTH_KEY.match(self.auth_key):
                raise CallbackSpecError(
                    "callback auth key: VOD allows 1 to 32 letters and digits"
                )
            if self.target is not None or self.name is not None:
                raise CallbackSpecError("an http callback has a url (and auth key), not a queue or topic")
        elif self.kind == MNS:
            if self.target not in (QUEUE, TOPIC):
                raise CallbackSpecError("an mns callback goes to queue:NAME or topic:NAME")
            check_name(self.name, f"{self.target} name")
            if self.url is not None or self.auth_key is not None:
                raise CallbackSpecError("an mns callback has a queue or topic, not a url or auth key")
        else:
            raise CallbackSpecError(f"callback kind {self.kind!r}: use http or mns")
        if self.event_types is not None:
            types = tuple(self.event_types)
            if not types or not all(isinstance(t, str) and t for t in types):
                raise CallbackSpecError("event_types: a non-empty list of event type names")
            object.__setattr__(self, "event_types", types)

    @classmethod
    def http(
        cls, url: str, auth_key: Optional[str] = None, event_types: Optional[Sequence[str]] = None
    ) -> "CallbackConfig":
        return cls(HTTP, url=url, auth_key=auth_key or None, event_types=_types(event_types))

    @classmethod
    def mns(cls, spec: str, event_types: Optional[Sequence[str]] = None) -> "CallbackConfig":
        """From ``queue:NAME`` or ``topic:NAME``."""
        target, colon, name = str(spec).partition(":")
        if not colon:
            raise CallbackSpecError(f"mns callback {spec!r}: expected queue:NAME or topic:NAME")
        return cls(MNS, target=target.strip().lower(), name=name.strip(), event_types=_types(event_types))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CallbackConfig":
        """From the control API's JSON: ``{"url", "auth_key"}`` or ``{"mns": "queue:NAME"}``
        (or ``{"target", "name"}``), optionally with ``event_types``; ``kind`` may be left out."""
        if not isinstance(data, Mapping):
            raise CallbackSpecError("a callback setting must be a JSON object")
        allowed = {"kind", "url", "auth_key", "mns", "target", "name", "event_types", "region", "auth_key_set"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise CallbackSpecError(f"unknown field(s) {', '.join(unknown)}: use url, auth_key, mns, event_types, region")
        types = data.get("event_types")
        if data.get("mns"):
            return cls.mns(data["mns"], types)
        kind = data.get("kind") or (MNS if data.get("target") else HTTP)
        if kind == MNS:
            return cls(MNS, target=data.get("target"), name=data.get("name"), event_types=_types(types))
        return cls.http(str(data.get("url") or ""), data.get("auth_key"), types)

    def to_dict(self, *, secrets: bool = False) -> dict[str, Any]:
        """The setting as JSON; the auth key only with ``secrets`` (else ``auth_key_set``)."""
        data = asdict(self)
        data["event_types"] = list(self.event_types) if self.event_types is not None else None
        if not secrets:
            data["auth_key_set"] = self.auth_key is not None
            data.pop("auth_key")
        return data

    def describe(self) -> str:
        if self.kind == HTTP:
            return f"http {self.url}" + (" (signed)" if self.auth_key else "")
        return f"mns {self.target}:{self.name}"

    def accepts(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


def _types(value: Optional[Sequence[str]]) -> Optional[tuple[str, ...]]:
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return tuple(value)


@dataclass(frozen=True)
class Subscription:
    topic: str
    url: str
    format: str = STREAM
    name: str = ""
    function_name: str = "on_upload"
    filter_tag: Optional[str] = None

    def __post_init__(self) -> None:
        check_name(self.topic, "topic")
        url = check_url(self.url, "trigger URL").rstrip("/")
        if url.endswith("/invoke"):
            url = url[: -len("/invoke")]
        object.__setattr__(self, "url", url)
        fmt = str(self.format).upper()
        if fmt not in FORMATS:
            raise CallbackSpecError(f"format={self.format!r}: use STREAM or JSON")
        object.__setattr__(self, "format", fmt)
        if not self.name:
            object.__setattr__(self, "name", f"{self.function_name}-{self.topic}")
        if not self.function_name:
            raise CallbackSpecError("a trigger needs a function name")
        if self.filter_tag is not None and not 1 <= len(self.filter_tag) <= 16:
            raise CallbackSpecError("tag: a filter tag has 1 to 16 characters, as an MNS message tag")

    @property
    def invoke_url(self) -> str:
        return f"{self.url}/invoke"

    @classmethod
    def parse(cls, spec: str) -> "Subscription":
        """From ``TOPIC=URL[,format=JSON][,function=NAME][,name=SUB][,tag=TAG]``."""
        topic, eq, rest = str(spec).partition("=")
        if not eq or not topic.strip() or not rest.strip():
            raise CallbackSpecError(
                f"trigger {spec!r}: expected TOPIC=URL[,format=STREAM|JSON][,function=NAME], "
                "e.g. vod-events=http://127.0.0.1:9000,format=JSON"
            )
        url, *items = [part.strip() for part in rest.split(",")]
        fields: dict[str, Any] = {"topic": topic.strip(), "url": url}
        names = {"format": "format", "function": "function_name", "name": "name", "tag": "filter_tag"}
        for item in items:
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq or key not in names or not value.strip():
                raise CallbackSpecError(
                    f"trigger {spec!r}: cannot read {item!r}; expected format=STREAM|JSON, "
                    "function=NAME, name=SUBSCRIPTION or tag=FILTER_TAG"
                )
            fields[names[key]] = value.strip()
        try:
            return cls(**fields)
        except CallbackSpecError as exc:
            raise CallbackSpecError(f"trigger {spec!r}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Subscription":
        if not isinstance(data, Mapping):
            raise CallbackSpecError("a trigger must be a JSON object or a TOPIC=URL spec")
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - allowed - {"spec"})
        if unknown:
            raise CallbackSpecError(f"unknown field(s) {', '.join(unknown)}: use {', '.join(sorted(allowed))}")
        if not data.get("topic") or not data.get("url"):
            raise CallbackSpecError("a trigger needs a topic and a url")
        return cls(**{k: v for k, v in data.items() if k in allowed and v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def spec(self) -> str:
        items = [f"{self.topic}={self.url}", f"format={self.format}", f"function={self.function_name}"]
        if self.filter_tag:
            items.append(f"tag={self.filter_tag}")
        return ",".join(items)

    def matches(self, topic: str, tag: Optional[str]) -> bool:
        return self.topic == topic and (self.filter_tag is None or self.filter_tag == tag)


def parse_subscription(spec: Union[str, Mapping[str, Any], Subscription]) -> Subscription:
    if isinstance(spec, Subscription):
        return spec
    if isinstance(spec, str):
        return Subscription.parse(spec)
    return Subscription.from_dict(spec)


__all__ = [
    "CallbackConfig",
    "CallbackSpecError",
    "DEFAULT_REGION",
    "FORMATS",
    "HTTP",
    "JSON_FORMAT",
    "MNS",
    "QUEUE",
    "STREAM",
    "Subscription",
    "TOPIC",
    "parse_subscription",
]
