"""Fault injection: make chosen operations fail the way real services and networks fail.

A :class:`FaultRule` names an operation (a VOD action such as ``SubmitAIImageJob``, the MNS
operations ``PublishMessage`` and ``SendMessage``, or ``*`` for all) and one kind of fault:

``error``
    answer with ``code`` and HTTP ``status`` in the service's own envelope (VOD JSON, MNS XML).
    Nothing is processed: no job, no message, and the signature nonce is not recorded.
``reset``
    the connection is reset before the request is processed (nothing created, nonce not
    recorded: an identical resend succeeds).
``lost``
    the request is processed (job created, message stored, nonce recorded), then the
    connection is closed without an answer. An identical resend of a signed VOD request gets
    ``SignatureNonceUsed``; MNS has no nonce, so a resend publishes a second message.
``latency``
    only a delay. Any rule may also carry ``latency`` (seconds, slept before processing).

``probability`` (0..1) says how often a matching request fires the rule; every draw comes
from one ``random.Random(seed)`` under a lock, so a seeded run repeats. ``times`` caps how
often the rule fires: it fails N requests, then never again (with a probability below 1,
requests whose draw missed do not count). Rules are tried in order; the first that fires
wins, and later rules are not consulted for that request (not even latency-only ones).

The compact spec form (``--fault`` on the command line) is::

    SPEC     := OPERATION ":" ITEM ("," ITEM)*       or a JSON object (FaultRule.to_dict())
    ITEM     := "error=" CODE ["/" STATUS] | "reset" | "lost"
              | "latency=" SECONDS | "p=" PROBABILITY | "times=" N

    SubmitAIImageJob:error=Throttling.User/400,p=0.1
    PublishMessage:reset,times=2
    *:latency=0.5
    SubmitAIImageJob:lost,times=1
"""

from __future__ import annotations

import json
import math
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Optional, Tuple, Union

from ..exceptions import FaultSpecError

ERROR, RESET, LOST, LATENCY = "error", "reset", "lost", "latency"
KINDS = (ERROR, RESET, LOST, LATENCY)
ANY_OPERATION = "*"
MNS_OPERATIONS = ("PublishMessage", "SendMessage")

# HTTP status and wording of the codes a fault usually imitates, so that ``error=CODE``
# suffices for them (Alibaba's common gateway messages). Any other code needs its status.
KNOWN_ERRORS: dict[str, tuple[int, str]] = {
    "Throttling": (400, "Request was denied due to request throttling."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling.Api": (400, "Request was denied due to api flow control."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "ServiceUnAvailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (
        500,
        "The request processing has failed due to some unknown error, exception or failure.",
    ),
}

SPEC_GRAMMAR = (
    "OPERATION:ITEM[,ITEM...] where OPERATION is a VOD action, PublishMessage, SendMessage "
    "or *, and ITEM is error=CODE[/STATUS], reset, lost, latency=SECONDS, p=PROBABILITY or "
    "times=N (one of error/reset/lost, optionally with latency; or latency alone); "
    "or a JSON object with the fields operation, kind, code, status, message, latency, "
    "probability, times"
)
_EXAMPLE = "SubmitAIImageJob:error=Throttling.User/400,p=0.1"
# Read-only fields the control API adds to a rule; accepted (and ignored) on the way back in.
_INFO_FIELDS = frozenset({"spec", "fired"})


def known_operations() -> list[str]:
    from .vod_actions import ACTIONS  # late: vod_actions imports the backend, which imports us

    return sorted({ANY_OPERATION, *ACTIONS, *MNS_OPERATIONS})


@dataclass(frozen=True)
class FaultRule:
    """One rule. ``kind`` is ``error``, ``reset``, ``lost`` or ``latency`` (a delay only)."""

    operation: str
    kind: str
    code: Optional[str] = None
    status: Optional[int] = None
    message: Optional[str] = None
    latency: float = 0.0
    probability: float = 1.0
    times: Optional[int] = None

    def __post_init__(self) -> None:
        if self.operation not in known_operations():
            raise FaultSpecError(
                f"unknown operation {self.operation!r}: use one of {', '.join(known_operations())}"
            )
        if self.kind not in KINDS:
            raise FaultSpecError(f"unknown kind {self.kind!r}: use one of {', '.join(KINDS)}")
        latency = _number("latency", self.latency)
        if not math.isfinite(latency) or latency < 0:
            raise FaultSpecError(f"latency={self.latency}: must be a number of seconds >= 0")
        object.__setattr__(self, "latency", latency)
        probability = _number("probability", self.probability)
        if not 0 <= probability <= 1:
            raise FaultSpecError(f"p={self.probability}: a probability must be between 0 and 1")
        object.__setattr__(self, "probability", probability)
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1
        ):
            raise FaultSpecError(f"times={self.times}: must be a whole number >= 1")
        if self.kind == ERROR:
            self._check_error()
        elif self.code is not None or self.status is not None or self.message is not None:
            raise FaultSpecError(f"code, status and message belong to an error rule, not {self.kind}")
        if self.kind == LATENCY and latency == 0:
            raise FaultSpecError("a latency rule needs latency > 0 (seconds)")

    def _check_error(self) -> None:
        if not self.code or not isinstance(self.code, str) or any(c.isspace() for c in self.code):
            raise FaultSpecError("an error rule needs a code without spaces, e.g. error=Throttling.User/400")
        status = self.status
        if status is None:
            if self.code not in KNOWN_ERRORS:
                raise FaultSpecError(
                    f"no HTTP status is known for {self.code}: write error={self.code}/STATUS"
                )
            status = KNOWN_ERRORS[self.code][0]
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultSpecError(f"status {status!r}: an error status must be 400..599")
        object.__setattr__(self, "status", status)
        if self.message is None:
            known = KNOWN_ERRORS.get(self.code)
            message = known[1] if known else f"Injected fault: {self.code}."
            object.__setattr__(self, "message", message)

    def error_parts(self) -> Tuple[int, str, str]:
        """(status, code, message) of an error rule: all three are set when it is made."""
        if self.status is None or self.code is None or self.message is None:
            raise FaultSpecError(f"a {self.kind} rule has no error to answer with")
        return self.status, self.code, self.message

    # -- conversions ---------------------------------------------------------------------

    @classmethod
    def parse(cls, spec: str) -> "FaultRule":
        """A rule from its compact spec (see the module doc) or from a JSON object."""
        text = spec.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise FaultSpecError(f"fault spec {spec!r}: not valid JSON ({exc})") from None
            return cls.from_dict(data)
        operation, colon, items = text.partition(":")
        if not colon or not operation.strip() or not items.strip():
            raise FaultSpecError(
                f"fault spec {spec!r}: expected OPERATION:ITEM[,ITEM...], e.g. {_EXAMPLE}"
            )
        fields: dict[str, Any] = {"operation": operation.strip()}
        kinds: list[str] = []
        seen: set[str] = set()
        for item in (part.strip() for part in items.split(",")):
            name, eq, value = item.partition("=")
            name = name.strip().lower()
            value = value.strip()
            key = "p" if name == "probability" else name
            if key in seen:
                raise FaultSpecError(f"fault spec {spec!r}: {name} given twice")
            seen.add(key)
            if name in (RESET, LOST) and not eq:
                kinds.append(name)
            elif name == ERROR and value:
                code, slash, status = value.partition("/")
                kinds.append(ERROR)
                fields["code"] = code.strip()
                if slash:
                    fields["status"] = _integer(f"error={value}", status.strip(), "an HTTP status")
            elif name == LATENCY and value:
                fields["latency"] = _float(f"latency={value}", value, "a number of seconds")
            elif key == "p" and value:
                fields["probability"] = _float(f"{name}={value}", value, "a probability (0..1)")
            elif name == "times" and value:
                fields["times"] = _integer(f"times={value}", value, "a whole number >= 1")
            else:
                raise FaultSpecError(
                    f"fault spec {spec!r}: cannot read {item!r}; expected error=CODE[/STATUS], "
                    "reset, lost, latency=SECONDS, p=PROBABILITY or times=N"
                )
        if len(kinds) > 1:
            raise FaultSpecError(
                f"fault spec {spec!r}: {' and '.join(kinds)}: a rule has one kind "
                "(error, reset or lost), optionally with latency"
            )
        if not kinds and "latency" not in fields:
            raise FaultSpecError(
                f"fault spec {spec!r}: say what to inject: error=CODE[/STATUS], reset, lost or latency=SECONDS"
            )
        fields["kind"] = kinds[0] if kinds else LATENCY
        try:
            return cls(**fields)
        except FaultSpecError as exc:
            raise FaultSpecError(f"fault spec {spec!r}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FaultRule":
        """A rule from :meth:`to_dict`'s shape; ``kind`` may be left out when ``code`` (error)
        or only ``latency`` says it. ``spec`` and ``fired`` (what the control API adds) are ignored."""
        if not isinstance(data, Mapping):
            raise FaultSpecError(f"a fault rule must be a JSON object, got {type(data).__name__}")
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - allowed - _INFO_FIELDS)
        if unknown:
            raise FaultSpecError(
                f"unknown field(s) {', '.join(unknown)} in fault rule: use {', '.join(sorted(allowed))}"
            )
        fields = {k: v for k, v in data.items() if k in allowed and v is not None}
        if "operation" not in fields:
            raise FaultSpecError("a fault rule needs an operation (a VOD action, PublishMessage, SendMessage or *)")
        if "kind" not in fields:
            if "code" in fields:
                fields["kind"] = ERROR
            elif fields.get("latency"):
                fields["kind"] = LATENCY
            else:
                raise FaultSpecError("a fault rule needs a kind: error, reset, lost or latency")
        for name in ("latency", "probability"):
            if name in fields:
                fields[name] = _number(name, fields[name])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def spec(self) -> str:
        """The compact form (``message`` is not part of it)."""
        items: list[str] = []
        if self.kind == ERROR:
            items.append(f"error={self.code}/{self.status}")
        elif self.kind != LATENCY:
            items.append(self.kind)
        if self.latency:
            items.append(f"latency={self.latency:g}")
        if self.probability != 1:
            items.append(f"p={self.probability:g}")
        if self.times is not None:
            items.append(f"times={self.times}")
        return f"{self.operation}:{','.join(items)}"

    def __str__(self) -> str:
        return self.spec()

    def matches(self, operation: str) -> bool:
        return self.operation == ANY_OPERATION or self.operation == operation


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultSpecError(f"{name}={value!r}: must be a number")
    return float(value)


def _float(item: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"{item}: must be {what}") from None
    return value


def _integer(item: str, text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise FaultSpecError(f"{item}: must be {what}") from None


def parse_fault(spec: Union[str, Mapping[str, Any], FaultRule]) -> FaultRule:
    """A rule from a spec string, a dict or a rule."""
    if isinstance(spec, FaultRule):
        return spec
    if isinstance(spec, str):
        return FaultRule.parse(spec)
    return FaultRule.from_dict(spec)


@dataclass(frozen=True)
class Fault:
    """A rule that fired for one request."""

    rule: FaultRule

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def latency(self) -> float:
        return self.rule.latency

    def describe(self) -> str:
        """What the request log records under ``fault``: the spec items of what was injected,
        without the operation, probability and times (``error=Throttling.User/400``, ``reset``,
        ``lost``, ``latency=0.5``, ``error=InternalError/500,latency=0.5``). Hashable, so a
        log can be counted by it; ``fault_rule`` in the log holds the whole rule's spec."""
        items: list[str] = []
        if self.kind == ERROR:
            items.append(f"error={self.rule.code}/{self.rule.status}")
        elif self.kind != LATENCY:
            items.append(self.kind)
        if self.latency:
            items.append(f"latency={self.latency:g}")
        return ",".join(items)


@dataclass
class _Entry:
    rule: FaultRule
    fired: int = 0

    def exhausted(self) -> bool:
        return self.rule.times is not None and self.fired >= self.rule.times


class Faults:
    """The fault rules of one backend (``backend.faults``) and the seeded RNG they draw from."""

    def __init__(self, seed: Optional[int] = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.seed_value = seed
        self._entries: list[_Entry] = []

    def add(self, rule: Union[FaultRule, str, Mapping[str, Any]]) -> FaultRule:
        """Append a rule (a FaultRule, a spec string or a dict); returns it."""
        parsed = parse_fault(rule)
        with self._lock:
            self._entries.append(_Entry(parsed))
        return parsed

    def extend(self, rules: Iterable[Union[FaultRule, str, Mapping[str, Any]]]) -> list[FaultRule]:
        """Append several rules: all are checked first, so a bad one adds none."""
        parsed = [parse_fault(rule) for rule in rules]
        with self._lock:
            self._entries.extend(_Entry(rule) for rule in parsed)
        return parsed

    def clear(self) -> int:
        """Remove every rule; returns how many there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [entry.rule for entry in self._entries]

    def status(self) -> list[dict[str, Any]]:
        """Each rule as a dict, plus its ``spec`` and how often it has ``fired``."""
        with self._lock:
            return [
                {**entry.rule.to_dict(), "spec": entry.rule.spec(), "fired": entry.fired}
                for entry in self._entries
            ]

    def seed(self, seed: Optional[int]) -> None:
        """Restart the probability draws from ``seed`` (None: unpredictable)."""
        with self._lock:
            self.seed_value = seed
            self._rng.seed(seed)

    def draw(self, operation: str) -> Optional[Fault]:
        """The fault to inject into one request of ``operation``, if any (counts it as fired)."""
        with self._lock:
            for entry in self._entries:
                if not entry.rule.matches(operation) or entry.exhausted():
                    continue
                probability = entry.rule.probability
                if probability < 1 and not (probability > 0 and self._rng.random() < probability):
                    continue
                entry.fired += 1
                return Fault(entry.rule)
        return None


__all__ = [
    "ANY_OPERATION",
    "Fault",
    "FaultRule",
    "FaultSpecError",
    "Faults",
    "KINDS",
    "KNOWN_ERRORS",
    "MNS_OPERATIONS",
    "SPEC_GRAMMAR",
    "known_operations",
    "parse_fault",
]
