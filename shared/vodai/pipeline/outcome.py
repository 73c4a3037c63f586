"""The one recorded outcome every event ends in, and the invocation's summary of them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Dict, List, Optional, Tuple

from .. import jsontext

SUBMITTED = "submitted"  # the job was submitted and its JobId published
SKIPPED = "skipped"  # nothing to do (or a duplicate of a job already done), with the reason
DEAD_LETTERED = "dead_lettered"  # cannot succeed as delivered: kept with its reason, acknowledged
FAILED = "failed"  # a retryable error: the invocation fails so the platform redelivers
PLANNED = "planned"  # dry run: what would be submitted
COMPLETED = "completed"  # a job-completion event (AIMediaAuditComplete): its one completion message was published

FINAL = frozenset({SUBMITTED, COMPLETED, SKIPPED, DEAD_LETTERED})


@dataclass(slots=True)
class Outcome:
    """What became of one event: the one outcome every event ends in, as logged and returned."""

    # The fields' order is the order of a log line's keys (to_dict).
    index: int
    status: str
    reason: Optional[str] = None
    shape: Optional[str] = None
    backfill: Optional[bool] = None  # True for an event `vodai backfill` made (however it came)
    event_type: Optional[str] = None
    media_id: Optional[str] = None
    media_type: Optional[str] = None
    region: Optional[str] = None
    region_source: Optional[str] = None
    action: Optional[str] = None
    template_id: Optional[str] = None
    job_id: Optional[str] = None
    request_id: Optional[str] = None
    message_id: Optional[str] = None
    source_id: Optional[str] = None
    error: Optional[dict] = None
    duplicate: Optional[bool] = None
    republished: Optional[bool] = None
    attempts: Optional[int] = None
    duration_ms: Optional[float] = None
    dead_letter_id: Optional[str] = None

    def to_dict(self) -> dict:
        # PascalCase keys, like every other payload around VOD and MNS; unset fields left out.
        # Not asdict: the fields are flat, and asdict's deep copy costs more than routing.
        found = ((key, getattr(self, name)) for name, key in _PASCAL.items())
        return {key: value for key, value in found if value is not None}

    @classmethod
    def from_dict(cls, doc: dict) -> Outcome:
        """The inverse of :meth:`to_dict` (for results that crossed HTTP or were saved)."""
        return cls(**{_FIELD_OF[k]: v for k, v in doc.items() if k in _FIELD_OF})


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


_PASCAL = {f.name: _pascal(f.name) for f in fields(Outcome)}
_FIELD_OF = {key: name for name, key in _PASCAL.items()}


@dataclass(slots=True)
class InvocationResult:
    """Every outcome of one invocation, in order."""

    request_id: Optional[str]
    outcomes: List[Outcome] = field(default_factory=list)
    # id(outcome) -> (its fields, their JSON text) as its log line was written: to_json reuses them.
    _encoded: Dict[int, Tuple[dict, str]] = field(default_factory=dict, init=False, repr=False, compare=False)

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
    def from_dict(cls, doc: dict) -> InvocationResult:
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
    pairs = zip(then.items(), now.items(), strict=True)
    return all(k1 == k2 and v1 is v2 and type(v1) in _SCALARS for (k1, v1), (k2, v2) in pairs)
