"""The one pipeline every entry point uses: raw bytes -> events -> decision -> submit -> publish -> outcome.

Every event ends in exactly one recorded outcome: submitted (and published), completed (a
job-completion event whose one completion message was published), skipped with a reason,
dead-lettered with a reason (and acknowledged), or failed with a retryable error (and the
invocation fails so the platform redelivers; idempotency makes that safe).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, List, Optional, Sequence, Tuple

from .. import context as fc_context
from ..config import Settings
from ..events.envelopes import Record, lone_surrogate_at, unwrap
from ..events.models import AIMediaAuditComplete, VodEvent, parse_event
from ..exceptions import ConfigError, DeadLetterError, EventError, ParameterError
from ..invocation import Invocation, invocation
from ..logs import log_outcome
from ..regions import resolve_region
from ..routing.decision import Complete, Decision, Skip, Submit, decide
from ..routing.rules import RouteTable
from . import outcome as oc
from .dependencies import Dependencies
from .jobs import run_job

# One event of a payload after the pure part: its record, the outcome begun for it, the parsed
# event and the decision (None where the outcome is already final).
Decided = Tuple[Record, oc.Outcome, Optional[VodEvent], Optional[Decision]]


def submits(event: Optional[VodEvent], decision: Optional[Decision]) -> bool:
    """Whether a decided event goes on to submit a job (and claim its job key)."""
    return event is not None and isinstance(decision, Submit)


def dispatch(
    raw: bytes,
    deps: Dependencies,
    *,
    context: Any = None,
    region_hint: Optional[str] = None,
    started: Optional[float] = None,
    decided: Optional[Sequence[Decided]] = None,
) -> oc.InvocationResult:
    """Run every event in ``raw`` through the pipeline; never raises for bad input.

    ``decided``: what :func:`decide_all` made of ``raw`` (with the same settings, routes and
    context) for a caller that needed the decisions first (replay locks the job keys before it
    runs an item); taken as they are instead of parsed and routed again, and used up: their
    outcomes become the result's (whose ``duration_ms`` then leaves out the deciding)."""
    inv = invocation(context, deps.settings, deps.clock() if started is None else started, deps.clock)
    result = oc.InvocationResult(inv.request_id)
    limit = deps.settings.max_delivery_bytes
    for item in unwrap(raw, region=region_hint, max_bytes=limit) if decided is None else decided:
        begun = time.perf_counter()
        if isinstance(item, Record):
            record = item
            out, event, decision = decide_record(record, deps.settings, deps.routes, context)
        else:
            record, out, event, decision = item
        if isinstance(decision, Complete) and isinstance(event, AIMediaAuditComplete):
            # Imported here: only audit completions come this way, and an upload's cold start
            # need not load the completion path (vodai.tracking.completion and .results).
            from .completions import run_completion

            out = run_completion(event, decision, out, deps, inv)
        elif event is not None and isinstance(decision, Submit):
            check = record.http_callback and deps.settings.verify_callback_media
            out = run_job(event, decision, out, deps, inv, check_media=check)
        if out.status == oc.DEAD_LETTERED:
            _dead_letter(record, out, deps, inv)
        out.duration_ms = round((time.perf_counter() - begun) * 1000, 3)
        result.add(out, log_outcome(out, inv.request_id))
    return result


def _decide_each(raw: bytes, settings: Settings, routes: RouteTable, context: Any, region_hint: Optional[str]):
    for record in unwrap(raw, region=region_hint, max_bytes=settings.max_delivery_bytes):
        yield (record, *decide_record(record, settings, routes, context))


def decide_all(raw: bytes, *, settings: Settings, routes: RouteTable, context: Any = None,
               region_hint: Optional[str] = None) -> List[Decided]:
    """The pure part of the pipeline for every event in ``raw``: unwrap, parse, region, route."""
    return list(_decide_each(raw, settings, routes, context, region_hint))


def plan(raw: bytes, *, settings: Settings, routes: RouteTable, context: Any = None, region_hint: Optional[str] = None,
         decided: Optional[Sequence[Decided]] = None) -> oc.InvocationResult:
    """A dry run: what dispatch would decide for each event, calling nothing. ``decided``: as
    :func:`decide_all` made it of ``raw``, left as it was (its outcomes are copied)."""
    result = oc.InvocationResult(fc_context.request_id(context))
    if decided is None:
        decided = _decide_each(raw, settings, routes, context, region_hint)
    for _record, out, event, decision in decided:
        out = replace(out)
        if isinstance(decision, Complete):
            out.status, out.reason = oc.PLANNED, f"would publish the completion of JobId {decision.job_id} (if vodai submitted it)"
        elif event is not None and isinstance(decision, Submit):
            out.status, out.reason = oc.PLANNED, f"would call {decision.action} with {decision.params}"
        result.outcomes.append(out)
    return result


def decide_record(record: Record, settings: Settings, routes: RouteTable,
                  context: Any) -> Tuple[oc.Outcome, Optional[VodEvent], Optional[Decision]]:
    """The pure part: parse, resolve the region, route. A dead-letter or skip outcome, or a decision.

    Never raises: this part does no I/O, so whatever fails in it fails on the record's content,
    and the record is dead-lettered (with the error's type) while the rest of its batch goes on."""
    try:
        return _decide(record, settings, routes, context)
    except Exception as exc:  # poison that slipped past the checks: it must not stop the batch
        out = oc.Outcome(index=record.index, status=oc.DEAD_LETTERED, shape=record.shape,
                         backfill=record.backfill or None)
        out.reason = f"malformed event: could not be read ({type(exc).__name__})"
        return out, None, None


def _decide(record: Record, settings: Settings, routes: RouteTable,
            context: Any) -> Tuple[oc.Outcome, Optional[VodEvent], Optional[Decision]]:
    out = oc.Outcome(index=record.index, status=oc.DEAD_LETTERED, shape=record.shape,
                     backfill=record.backfill or None)
    # Checked first: no log line or message could carry a lone surrogate.
    where = lone_surrogate_at([record.body, record.source_id, record.region])
    if where is None:
        out.source_id = record.source_id
    if record.error is not None:
        out.reason = f"malformed event: {record.error}"
        return out, None, None
    if where is not None:
        out.reason = f"malformed event: {_field_of(where)}: holds a lone surrogate (\\ud800-\\udfff), not Unicode text"
        return out, None, None
    try:
        event = parse_event(record.body)
    except EventError as exc:
        out.reason = f"malformed event: {exc}"
        return out, None, None
    out.event_type, out.media_id, out.media_type = event.event_type, event.media_id, event.media_type
    out.region, out.region_source = resolve_region(
        envelope_region=record.region,
        envelope_source=record.region_source,
        file_url=getattr(event, "file_url", None),
        configured_region=settings.region,
        context_region=fc_context.region(context),
    )
    try:
        decision = decide(event, region=out.region, table=routes, settings=settings, source_id=record.source_id)
    except (ParameterError, ConfigError) as exc:
        out.reason = f"invalid request: {exc}"
        return out, event, None
    if isinstance(decision, Skip):
        out.status, out.reason = oc.SKIPPED, decision.reason
        return out, event, decision
    if isinstance(decision, Complete):
        out.job_id = decision.job_id
    else:
        out.action, out.template_id = decision.action, decision.template_id
    if not settings.callback_topic:
        # Checked before submitting: a paid job whose JobId cannot be published is lost work.
        out.reason = "invalid request: VODAI_CALLBACK_TOPIC: not set"
        return out, event, None
    return out, event, decision


def _field_of(path: str) -> str:
    """The field named by a path into ``[body, source id, region]`` (at most 200 characters)."""
    head, _, rest = path.partition("]")
    field = {"[0": rest.lstrip(".") or "body", "[1": "the envelope's message id", "[2": "the envelope's region"}.get(head, path)
    return field if len(field) <= 200 else field[:197] + "..."


def _dead_letter(record: Record, out: oc.Outcome, deps: Dependencies, inv: Invocation) -> None:
    # Imported here: only a dead-lettered event needs the letter and its encoding.
    from ..deadletter.base import DeadLetter

    letter = DeadLetter.of(reason=out.reason or "", outcome=out.to_dict(), raw=record.raw, request_id=inv.request_id)
    try:
        deps.dead_letters.write(letter, deps.secrets)
        out.dead_letter_id = letter.dead_letter_id
    except DeadLetterError as exc:
        # Not kept, so not acknowledged: the platform must deliver it again.
        out.status, out.reason = oc.FAILED, f"{out.reason}; and the dead letter could not be written: {exc}"
