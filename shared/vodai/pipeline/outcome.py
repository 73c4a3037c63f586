"""The one recorded outcome every event ends in, and the invocation's summary of them."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .. import jsontext
from ..values import Value

SUBMITTED = "submitted"  # the job was submitted and its JobId published
SKIPPED = "skipped"  # nothing to do (or a duplicate of a job already done), with the reason
DEAD_LETTERED = "dead_lettered"  # cannot succeed as delivered: kept with its reason, acknowledged
FAILED = "failed"  # a retryable error: the invocation fails so the platform redelivers
PLANNED = "planned"  # dry run: what would be submitted
COMPLETED = "completed"  # a job-completion event (AIMediaAuditComplete): its one completion message was published

FINAL = frozenset({SUBMITTED, COMPLETED, SKIPPED, DEAD_LETTERED})


class Outcome(Value):
    """What became of one event: the one outcome every event ends in, as logged and returned."""

    def __init__(
        self,
        index: int,
        status: str,
        reason: Optional[str] = None,
        shape: Optional[str] = None,
        event_type: Optional[str] = None,
        media_id: Optional[str] = None,
        media_type: Optional[str] = None,
        region: Optional[str] = None,
        region_source: Optional[str] = None,
        action: Optional[str] = None,
        template_id: Optional[str] = None,
        job_id: Optional[str] = None,
        request_id: Optional[str] = None,
        message_id: Optional[str] = None,
        source_id: Optional[str] = None,
        error: Optional[dict] = None,
        duplicate: Optional[bool] = None,
        republished: Optional[bool] = None,
        attempts: Optional[int] = None,
        duration_ms: Optional[float] = None,
        dead_letter_id: Optional[str] = None,
    ) -> None:
        # Set in the parameters' order: to_dict walks __dict__, so this is the order of a log line's keys.
        self.index = index
        self.status = status
        self.reason = reason
        self.shape = shape
        self.event_type = event_type
        self.media_id = media_id
        self.media_type = media_type
        self.region = region
        self.region_source = region_source
        self.action = action
        self.template_id = template_id
        self.job_id = job_id
        self.request_id = request_id
        self.message_id = message_id
        self.source_id = source_id
        self.error = error
        self.duplicate = duplicate
        self.republished = republished
        self.attempts = attempts
        self.duration_ms = duration_ms
        self.dead_letter_id = dead_letter_id

    def to_dict(self) -> dict:
        # PascalCase keys, like every other payload around VOD and MNS; unset fields left out.
        # A shallow walk of __dict__ (the fields are flat): a deep copy (asdict) cost more than routing.
        return {_PASCAL[k]: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, doc: dict) -> "Outcome":
        """The inverse of :meth:`to_dict` (for results that crossed HTTP or were saved)."""
        names = {_pascal(f): f for f in cls._fields}
        return cls(**{names[k]: v for k, v in doc.items() if k in names})


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


_PASCAL = {name: _pascal(name) for name in Outcome._fields}


class InvocationResult(Value):
    """Every outcome of one invocation, in order."""

    def __init__(self, request_id: Optional[str], outcomes: Optional[List[Outcome]] = None) -> None:
        self.request_id = request_id
        self.outcomes: List[Outcome] = [] if outcomes is None else outcomes
        # id(outcome) -> (its fields, their JSON text) as its log line was written: to_json reuses them.
        # Not a field: left out of equality and repr.
        self._encoded: Dict[int, Tuple[dict, str]] = {}

    def add(self, outcome: Outcome, encoded: Optional[Tuple[dict, str]] = None) -> None:
        """Append ``outcome``; ``encoded``: its fields and JSON text, if already made (its log line)."""
        self.outcomes.append(outcome)
        if encoded is not None:
            self._encoded[id(outcome)] = encoded

    @property
    def failed(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    def counts(self) -> dict:
        out: dict = {}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {
            "RequestId": self.request_id,
            "Counts": self.counts(),
            "Outcomes": [o.to_dict() for o in self.outcomes],
        }

    @classmethod
    def from_dict(cls, doc: dict) -> "InvocationResult":
        return cls(doc.get("RequestId"), [Outcome.from_dict(o) for o in doc.get("Outcomes", [])])

    def to_json(self) -> str:
        """``compact(to_dict())``, reusing an outcome's text from its log line while unchanged."""
        if not self._encoded:
            return jsontext.compact(self.to_dict())
        texts = []
        for o in self.outcomes:
            fields = o.to_dict()
            known = self._encoded.get(id(o))
            texts.append(known[1] if known is not None and _unchanged(known[0], fields) else jsontext.compact(fields))
        return (f'{{"RequestId":{jsontext.compact(self.request_id)},"Counts":{jsontext.compact(self.counts())},'
                f'"Outcomes":[{",".join(texts)}]}}')


_SCALARS = frozenset({str, int, float, bool})


def _unchanged(then: dict, now: dict) -> bool:
    """The same keys in the same order, each value the very object encoded then, and none a
    container (a dict changed in place would still be the same object)."""
    if len(then) != len(now):
        return False
    for (k1, v1), (k2, v2) in zip(then.items(), now.items()):
        if k1 != k2 or v1 is not v2 or type(v1) not in _SCALARS:
            return False
    return True
