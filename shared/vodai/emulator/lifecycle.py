"""Job lifecycle: how a submitted AI job moves from ``Processing`` to ``success`` or ``fail``.

A :class:`LifecycleRule` per submit action says *when* its jobs finish and *how*:

``schedule``
    ``at_once`` (finished when the submit returns), ``after_queries`` (the first N queries of
    the job, by GetAIImageJobs or GetAIMediaAuditJob, see it ``Processing``; query N+1 sees it
    finished), ``after_seconds`` (finished T seconds of emulator clock after the submit), or
    ``never`` (stays ``Processing``).
``outcome``
    ``success`` or ``fail``; ``code``/``message`` are the failure's (defaults below);
    ``fail_probability`` makes a ``success`` rule fail that often, drawn at submit time from
    the backend's seeded lifecycle RNG, so a seeded run repeats.
``suggestion``
    audit jobs only: force the overall ``pass``/``review``/``block`` (default: drawn,
    deterministically from the seed and the media, see :mod:`vodai.emulator.results`).

The default for both actions is ``after_queries=1, outcome=success``: the first query sees
``Processing``, the next one the result. A rule applies to jobs submitted after it is set.

The compact spec form (``--lifecycle`` on the command line)::

    SPEC := ACTION ":" ITEM ("," ITEM)*          or a JSON object (LifecycleRule.to_dict())
    ACTION := SubmitAIImageJob | SubmitAIImageAuditJob | *
    ITEM := at_once | never | after_queries=N | after_seconds=T
          | outcome=success|fail | code=CODE | message=TEXT | p_fail=P
          | suggestion=pass|review|block

    SubmitAIImageJob:after_queries=2
    SubmitAIImageAuditJob:after_seconds=30,suggestion=block
    SubmitAIImageJob:at_once,outcome=fail,code=InvalidVideo.Damaged
    *:at_once,p_fail=0.2

``message`` cannot hold a comma in the compact form; use the JSON form for that.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional, Union

from ..exceptions import LifecycleSpecError

AT_ONCE, AFTER_QUERIES, AFTER_SECONDS, NEVER = "at_once", "after_queries", "after_seconds", "never"
SCHEDULES = (AT_ONCE, AFTER_QUERIES, AFTER_SECONDS, NEVER)
SUCCESS, FAIL = "success", "fail"
# In-progress status. GetAIMediaAuditJob documents "init" and "Processing"; GetAIImageJobs
# documents only success/fail, so "Processing" there is unconfirmed.
PROCESSING = "Processing"
SUGGESTIONS = ("pass", "review", "block")
ACTIONS = ("SubmitAIImageJob", "SubmitAIImageAuditJob")
ANY_ACTION = "*"

# Code/Message of a finished job. Success values are the documented samples (GetAIImageJobs:
# "Success"/"success"; GetAIMediaAuditJob and AIMediaAuditComplete: "0"/"OK"). The failure
# default is the emulator's own: VOD does not list the codes a failed AI job carries.
SUCCESS_CODES = {
    "SubmitAIImageJob": ("Success", "success"),
    "SubmitAIImageAuditJob": ("0", "OK"),
}
DEFAULT_FAIL_CODE = "ProcessFailed"
DEFAULT_FAIL_MESSAGE = "The AI job failed to process."

SPEC_GRAMMAR = (
    "ACTION:ITEM[,ITEM...] where ACTION is SubmitAIImageJob, SubmitAIImageAuditJob or *, and "
    "ITEM is at_once, never, after_queries=N, after_seconds=T, outcome=success|fail, code=CODE, "
    "message=TEXT, p_fail=P or suggestion=pass|review|block; or a JSON object with the fields "
    "action, schedule, queries, seconds, outcome, code, message, fail_probability, suggestion"
)
_EXAMPLE = "SubmitAIImageJob:after_queries=2"


@dataclass(frozen=True)
class LifecycleRule:
    action: str
    schedule: str = AFTER_QUERIES
    queries: int = 1
    seconds: float = 0.0
    outcome: str = SUCCESS
    code: Optional[str] = None
    message: Optional[str] = None
    fail_probability: float = 0.0
    suggestion: Optional[str] = None

    def __post_init__(self) -> None:
        if self.action not in (*ACTIONS, ANY_ACTION):
            raise LifecycleSpecError(
                f"unknown action {self.action!r}: use {', '.join(ACTIONS)} or {ANY_ACTION}"
            )
        if self.schedule not in SCHEDULES:
            raise LifecycleSpecError(f"unknown schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}")
        if isinstance(self.queries, bool) or not isinstance(self.queries, int) or self.queries < 0:
            raise LifecycleSpecError(f"after_queries={self.queries!r}: must be a whole number >= 0")
        seconds = _number("after_seconds", self.seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise LifecycleSpecError(f"after_seconds={self.seconds!r}: must be a number of seconds >= 0")
        object.__setattr__(self, "seconds", seconds)
        if self.outcome not in (SUCCESS, FAIL):
            raise LifecycleSpecError(f"outcome={self.outcome!r}: use success or fail")
        probability = _number("p_fail", self.fail_probability)
        if not 0 <= probability <= 1:
            raise LifecycleSpecError(f"p_fail={self.fail_probability!r}: a probability must be between 0 and 1")
        object.__setattr__(self, "fail_probability", probability)
        for name in ("code", "message"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise LifecycleSpecError(f"{name}={value!r}: must be a non-empty string")
        if self.code is not None and any(c.isspace() for c in self.code):
            raise LifecycleSpecError(f"code={self.code!r}: a code has no spaces")
        if self.suggestion is not None and self.suggestion not in SUGGESTIONS:
            raise LifecycleSpecError(f"suggestion={self.suggestion!r}: use one of {', '.join(SUGGESTIONS)}")
        if self.suggestion is not None and self.action == "SubmitAIImageJob":
            raise LifecycleSpecError("suggestion belongs to audit jobs (SubmitAIImageAuditJob)")

    # -- conversions ---------------------------------------------------------------------

    @classmethod
    def parse(cls, spec: str) -> "LifecycleRule":
        text = spec.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise LifecycleSpecError(f"lifecycle spec {spec!r}: not valid JSON ({exc})") from None
            return cls.from_dict(data)
        action, colon, items = text.partition(":")
        if not colon or not action.strip() or not items.strip():
            raise LifecycleSpecError(
                f"lifecycle spec {spec!r}: expected ACTION:ITEM[,ITEM...], e.g. {_EXAMPLE}"
            )
        fields: dict[str, Any] = {"action": action.strip()}
        schedules: list[str] = []
        seen: set[str] = set()
        for item in (part.strip() for part in items.split(",")):
            name, eq, value = item.partition("=")
            name, value = name.strip().lower(), value.strip()
            if name in seen:
                raise LifecycleSpecError(f"lifecycle spec {spec!r}: {name} given twice")
            seen.add(name)
            if name in (AT_ONCE, NEVER) and not eq:
                schedules.append(name)
            elif name == AFTER_QUERIES and value:
                schedules.append(name)
                fields["queries"] = _integer(item, value)
            elif name == AFTER_SECONDS and value:
                schedules.append(name)
                fields["seconds"] = _float(item, value)
            elif name == "outcome" and value:
                fields["outcome"] = value.lower()
            elif name == "code" and value:
                fields["code"] = value
            elif name == "message" and value:
                fields["message"] = value
            elif name in ("p_fail", "p") and value:
                fields["fail_probability"] = _float(item, value)
            elif name == "suggestion" and value:
                fields["suggestion"] = value.lower()
            else:
                raise LifecycleSpecError(
                    f"lifecycle spec {spec!r}: cannot read {item!r}; expected at_once, never, "
                    "after_queries=N, after_seconds=T, outcome=success|fail, code=CODE, "
                    "message=TEXT, p_fail=P or suggestion=pass|review|block"
                )
        if len(schedules) > 1:
            raise LifecycleSpecError(
                f"lifecycle spec {spec!r}: {' and '.join(schedules)}: a rule has one schedule"
            )
        if schedules:
            fields["schedule"] = schedules[0]
        try:
            return cls(**fields)
        except LifecycleSpecError as exc:
            raise LifecycleSpecError(f"lifecycle spec {spec!r}: {exc}") from None
        except TypeError as exc:  # pragma: no cover - guarded by the parser above
            raise LifecycleSpecError(f"lifecycle spec {spec!r}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LifecycleRule":
        if not isinstance(data, Mapping):
            raise LifecycleSpecError(f"a lifecycle rule must be a JSON object, got {type(data).__name__}")
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - allowed - {"spec"})
        if unknown:
            raise LifecycleSpecError(
                f"unknown field(s) {', '.join(unknown)} in lifecycle rule: use {', '.join(sorted(allowed))}"
            )
        fields = {k: v for k, v in data.items() if k in allowed and v is not None}
        if "action" not in fields:
            raise LifecycleSpecError(f"a lifecycle rule needs an action ({', '.join(ACTIONS)} or *)")
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def spec(self) -> str:
        items: list[str] = []
        if self.schedule == AFTER_QUERIES:
            items.append(f"after_queries={self.queries}")
        elif self.schedule == AFTER_SECONDS:
            items.append(f"after_seconds={self.seconds:g}")
        else:
            items.append(self.schedule)
        items.append(f"outcome={self.outcome}")
        if self.code is not None:
            items.append(f"code={self.code}")
        if self.message is not None and "," not in self.message:
            items.append(f"message={self.message}")
        if self.fail_probability:
            items.append(f"p_fail={self.fail_probability:g}")
        if self.suggestion is not None:
            items.append(f"suggestion={self.suggestion}")
        return f"{self.action}:{','.join(items)}"

    def __str__(self) -> str:
        return self.spec()

    def for_action(self, action: str) -> "LifecycleRule":
        """This rule as the rule of ``action`` (a ``*`` rule is copied to each action)."""
        data = self.to_dict()
        data["action"] = action
        if action == "SubmitAIImageJob":
            data["suggestion"] = None
        return LifecycleRule(**data)


def parse_lifecycle(spec: Union[str, Mapping[str, Any], LifecycleRule]) -> LifecycleRule:
    if isinstance(spec, LifecycleRule):
        return spec
    if isinstance(spec, str):
        return LifecycleRule.parse(spec)
    return LifecycleRule.from_dict(spec)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LifecycleSpecError(f"{name}={value!r}: must be a number")
    return float(value)


def _float(item: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise LifecycleSpecError(f"{item}: must be a number") from None


def _integer(item: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise LifecycleSpecError(f"{item}: must be a whole number") from None


def default_rules() -> dict[str, LifecycleRule]:
    return {action: LifecycleRule(action) for action in ACTIONS}


class Lifecycle:
    """The lifecycle rule of each submit action (``backend.lifecycle``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules = default_rules()

    def set(self, rule: Union[LifecycleRule, str, Mapping[str, Any]]) -> list[LifecycleRule]:
        """Set the rule of its action (``*``: of both); returns the rules it set."""
        parsed = parse_lifecycle(rule)
        targets = ACTIONS if parsed.action == ANY_ACTION else (parsed.action,)
        rules = [parsed.for_action(action) for action in targets]
        with self._lock:
            for one in rules:
                self._rules[one.action] = one
        return rules

    def rule(self, action: str) -> LifecycleRule:
        with self._lock:
            return self._rules[action]

    def rules(self) -> list[LifecycleRule]:
        with self._lock:
            return [self._rules[action] for action in ACTIONS]

    def status(self) -> list[dict[str, Any]]:
        return [{**rule.to_dict(), "spec": rule.spec()} for rule in self.rules()]

    def reset(self) -> None:
        """Back to the default rule for every action."""
        with self._lock:
            self._rules = default_rules()


__all__ = [
    "ACTIONS",
    "AFTER_QUERIES",
    "AFTER_SECONDS",
    "AT_ONCE",
    "FAIL",
    "Lifecycle",
    "LifecycleRule",
    "LifecycleSpecError",
    "NEVER",
    "PROCESSING",
    "SCHEDULES",
    "SPEC_GRAMMAR",
    "SUCCESS",
    "SUGGESTIONS",
    "parse_lifecycle",
]
