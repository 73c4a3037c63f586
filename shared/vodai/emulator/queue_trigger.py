"""An FC 3.0 MNS queue trigger's setting, as the emulator runs it (:mod:`.queue_poller` runs it).

FC's queue trigger is EventBridge-backed (trigger type ``eventbridge``, source MNS): it receives
a queue's messages and invokes the function with a list of CloudEvents. Here it pushes to one or
more ``vodai serve`` shims (``POST <url>/invoke``), each one function instance:

``queue`` / ``urls``
    the queue polled, and the instances invoked (a batch goes to a free one, round robin).
``batch_size`` (10, at most 100) / ``batch_window`` (0 s, at most 15)
    template.yml's ``EventsBatchSize`` / ``EventsBatchWindow``: a batch goes out when it holds
    ``batch_size`` messages or ``batch_window`` seconds after its first one (0: what is visible).
``concurrency`` (1)
    invocations in flight per instance: one, as an FC instance serves one request at a time.
``visibility_timeout`` (60 s)
    how long a received batch stays invisible; an invocation not answered by then fails.
``max_receives`` / ``dead_letter_queue`` (both or neither)
    a message received ``max_receives`` times whose invocation failed moves to the dead-letter
    queue; without them a failed message is received again until an invocation succeeds.
``function_name`` (on_upload), ``region`` (the emulator's), ``name`` (``<function>-<queue>``)
    what the x-fc-* headers and the CloudEvents (``aliyunregionid``, ``subject``) say.

Spec (``vodai emulator --queue-trigger``)::

    QUEUE=URL[,url=URL...][,batch=N][,window=S][,concurrency=N][,visibility=S]
         [,max_receives=N,dead_letter=QUEUE][,function=NAME][,region=REGION][,name=NAME]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional, Sequence, Union

from .callbacks import CallbackSpecError, check_name, check_url

# template.yml's EventsBatchSize (default, MaxValue) and EventsBatchWindow (MaxValue) ...
DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE = 10, 100
MAX_BATCH_WINDOW = 15.0
# ... and EventsConcurrency's MaxValue, here per instance.
MAX_CONCURRENCY = 100
# Longer than an invocation normally takes; MNS allows 1..43200 seconds.
DEFAULT_VISIBILITY_TIMEOUT, MAX_VISIBILITY_TIMEOUT = 60, 43200
_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
# FC's function and trigger names: letters, digits, '_' and '-', up to 128.
_FC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")

# Spec item -> field.
_SPEC_ITEMS = {
    "url": "urls", "batch": "batch_size", "window": "batch_window", "concurrency": "concurrency",
    "visibility": "visibility_timeout", "max_receives": "max_receives", "dead_letter": "dead_letter_queue",
    "function": "function_name", "region": "region", "name": "name",
}
SPEC_SHAPE = ("QUEUE=URL[,url=URL...][,batch=N][,window=S][,concurrency=N][,visibility=S]"
              "[,max_receives=N,dead_letter=QUEUE][,function=NAME][,region=REGION][,name=NAME]")


def _whole(value: Any, what: str, low: int, high: Optional[int]) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise CallbackSpecError(f"{what} {value!r}: a whole number, {bound}")
    return value


def _seconds(value: Any, what: str, high: float) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not 0 <= number <= high:
        raise CallbackSpecError(f"{what} {value!r}: seconds, 0..{high:g}")
    return number


def _invoke_base(url: str) -> str:
    url = check_url(url, "queue trigger URL").rstrip("/")
    return url[: -len("/invoke")] if url.endswith("/invoke") else url


@dataclass(frozen=True)
class QueueTrigger:
    """One queue trigger's setting; bad values raise :class:`CallbackSpecError` naming the field."""

    queue: str
    urls: tuple[str, ...]
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_window: float = 0.0
    concurrency: int = 1
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT
    max_receives: Optional[int] = None
    dead_letter_queue: Optional[str] = None
    function_name: str = "on_upload"
    region: Optional[str] = None
    name: str = ""

    def __post_init__(self) -> None:
        check_name(self.queue, "queue")
        urls = [self.urls] if isinstance(self.urls, str) else list(self.urls or ())
        if not urls:
            raise CallbackSpecError("a queue trigger needs at least one function URL (url)")
        bases = tuple(_invoke_base(url) for url in urls)
        repeated = sorted({u for u in bases if bases.count(u) > 1})
        if repeated:
            raise CallbackSpecError(f"url {repeated[0]} is given twice: one instance per URL")
        object.__setattr__(self, "urls", bases)
        object.__setattr__(self, "batch_size", _whole(self.batch_size, "batch size", 1, MAX_BATCH_SIZE))
        object.__setattr__(self, "batch_window", _seconds(self.batch_window, "batch window", MAX_BATCH_WINDOW))
        object.__setattr__(self, "concurrency", _whole(self.concurrency, "concurrency", 1, MAX_CONCURRENCY))
        object.__setattr__(self, "visibility_timeout",
                           _whole(self.visibility_timeout, "visibility timeout", 1, MAX_VISIBILITY_TIMEOUT))
        if (self.max_receives is None) != (self.dead_letter_queue is None):
            raise CallbackSpecError(
                "max receives and dead-letter queue go together: give both, or neither "
                "(then a failed message is retried until it succeeds)"
            )
        if self.max_receives is not None:
            object.__setattr__(self, "max_receives", _whole(self.max_receives, "max receives", 1, None))
            check_name(self.dead_letter_queue, "dead-letter queue")
            if self.dead_letter_queue == self.queue:
                raise CallbackSpecError("the dead-letter queue must not be the queue the trigger polls")
        if not isinstance(self.function_name, str) or not _FC_NAME.match(self.function_name):
            raise CallbackSpecError(f"function {self.function_name!r}: letters, digits, '_' and '-', as FC names it")
        if self.region is not None and (not isinstance(self.region, str) or not _REGION.match(self.region)):
            raise CallbackSpecError(f"region {self.region!r}: e.g. cn-shanghai")
        if not self.name:
            object.__setattr__(self, "name", f"{self.function_name}-{self.queue}")
        if not isinstance(self.name, str) or not _FC_NAME.match(self.name.replace("-", "_")):
            raise CallbackSpecError(f"trigger name {self.name!r}: letters, digits, '_' and '-'")

    @classmethod
    def parse(cls, spec: str) -> "QueueTrigger":
        """From the compact spec (module docstring), e.g. ``vodai-events=http://127.0.0.1:9001,batch=10``."""
        queue, eq, rest = str(spec).partition("=")
        if not eq or not queue.strip() or not rest.strip():
            raise CallbackSpecError(f"queue trigger {spec!r}: expected {SPEC_SHAPE}")
        first, *items = [part.strip() for part in rest.split(",")]
        fields: dict[str, Any] = {"queue": queue.strip(), "urls": [first]}
        for item in items:
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq or key not in _SPEC_ITEMS or not value.strip():
                raise CallbackSpecError(
                    f"queue trigger {spec!r}: cannot read {item!r}; expected one of "
                    f"{', '.join(k + '=' for k in _SPEC_ITEMS)}"
                )
            if key == "url":
                fields["urls"].append(value.strip())
            else:
                fields[_SPEC_ITEMS[key]] = value.strip()
        try:
            return cls(**fields)
        except CallbackSpecError as exc:
            raise CallbackSpecError(f"queue trigger {spec!r}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "QueueTrigger":
        """From the control API's JSON object (the field names; ``url`` for a single URL)."""
        if not isinstance(data, Mapping):
            raise CallbackSpecError("a queue trigger must be a JSON object or a QUEUE=URL spec")
        allowed = set(cls.__dataclass_fields__) | {"url"}
        unknown = sorted(set(data) - allowed - {"spec"})
        if unknown:
            raise CallbackSpecError(f"unknown field(s) {', '.join(unknown)}: use {', '.join(sorted(allowed))}")
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and v is not None}
        if data.get("url"):
            fields["urls"] = [data["url"], *(fields.get("urls") or [])]
        if not fields.get("queue") or not fields.get("urls"):
            raise CallbackSpecError("a queue trigger needs a queue and at least one url")
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["urls"] = list(self.urls)
        return data

    def spec(self) -> str:
        items = [f"{self.queue}={self.urls[0]}", *(f"url={u}" for u in self.urls[1:]),
                 f"batch={self.batch_size}", f"window={self.batch_window:g}", f"concurrency={self.concurrency}",
                 f"visibility={self.visibility_timeout}"]
        if self.max_receives is not None:
            items += [f"max_receives={self.max_receives}", f"dead_letter={self.dead_letter_queue}"]
        items.append(f"function={self.function_name}")
        if self.region:
            items.append(f"region={self.region}")
        if self.name != f"{self.function_name}-{self.queue}":
            items.append(f"name={self.name}")
        return ",".join(items)


def parse_queue_trigger(spec: Union[str, Mapping[str, Any], QueueTrigger]) -> QueueTrigger:
    """A :class:`QueueTrigger` from a spec string, a JSON object or one already made."""
    if isinstance(spec, QueueTrigger):
        return spec
    if isinstance(spec, str):
        return QueueTrigger.parse(spec)
    return QueueTrigger.from_dict(spec)


def queue_trigger(queue: str, urls: Union[str, Sequence[str]], **settings: Any) -> QueueTrigger:
    """``QueueTrigger(queue, urls, **settings)`` taking one URL or several."""
    return QueueTrigger(queue, tuple([urls] if isinstance(urls, str) else urls), **settings)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "MAX_BATCH_SIZE",
    "MAX_BATCH_WINDOW",
    "MAX_CONCURRENCY",
    "QueueTrigger",
    "parse_queue_trigger",
    "queue_trigger",
]
