"""The one recorded outcome every event ends in, and the invocation's summary of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from .. import jsontext

SUBMITTED = "submitted"  # the job was submitted and its JobId published
SKIPPED = "skipped"  # nothing to do (or a duplicate of a job already done), with the reason
DEAD_LETTERED = "dead_lettered"  # cannot succeed as delivered: kept with its reason, acknowledged
FAILED = "failed"  # a retryable error: the invocation fails so the platform redelivers
PLANNED = "planned"  # dry run: what would be submitted
COMPLETED = "completed"  # a job-completion event (AIMediaAuditComplete): its one completion message was published

FINAL = frozenset({SUBMITTED, COMPLETED, SKIPPED, DEAD_LETTERED})


@dataclass
class Outcome:
    index: int
    status: str
    reason: Optional[str] = None
    shape: Optional[str] = None
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
        # A shallow walk (the fields are flat): dataclasses.asdict's deep copy cost more than routing.
        return {_PASCAL[k]: v for k, v in self.__dict__.items() if v is not None}


    @classmethod
    def from_dict(cls, doc: dict) -> "Outcome":
        """The inverse of :meth:`to_dict` (for results that crossed HTTP or were saved)."""
        names = {_pascal(f): f for f in cls.__dataclass_fields__}
        return cls(**{names[k]: v for k, v in doc.items() if k in names})


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


_PASCAL = {name: _pascal(name) for name in Outcome.__dataclass_fields__}


@dataclass
class InvocationResult:
    request_id: Optional[str]
    outcomes: List[Outcome] = field(default_factory=list)

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
        return jsontext.compact(self.to_dict())
