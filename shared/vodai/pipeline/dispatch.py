"""The one pipeline every entry point uses: raw bytes -> events -> decision -> submit -> publish -> outcome."""

from __future__ import annotations

import logging
from typing import Any, Optional

from .. import context as fc_context
from ..events.envelopes import Record, unwrap
from ..events.models import VodEvent, parse_event
from ..exceptions import ApiError, ConfigError, EventError, ParameterError
from ..regions import resolve_region
from ..routing.decision import Skip, decide
from . import outcome as oc
from .dependencies import Dependencies
from .message import job_message

logger = logging.getLogger("vodai")


def dispatch(
    raw: bytes,
    deps: Dependencies,
    *,
    context: Any = None,
    region_hint: Optional[str] = None,
) -> oc.InvocationResult:
    """Run every event in ``raw`` through the pipeline; one outcome per event, never an exception
    for bad input (only a retryable failure is marked FAILED, for the caller to act on)."""
    result = oc.InvocationResult(fc_context.request_id(context))
    for record in unwrap(raw, region=region_hint):
        result.outcomes.append(_one(record, deps, context))
    return result


def _one(record: Record, deps: Dependencies, context: Any) -> oc.Outcome:
    out = oc.Outcome(index=record.index, status=oc.REJECTED, shape=record.shape, source_id=record.source_id)
    if record.error is not None:
        out.reason = f"malformed event: {record.error}"
        return out
    try:
        event = parse_event(record.body)
    except EventError as exc:
        out.reason = f"malformed event: {exc}"
        return out
    out.event_type, out.media_id, out.media_type = event.event_type, event.media_id, event.media_type
    region, source = resolve_region(
        envelope_region=record.region,
        envelope_source=record.region_source,
        file_url=getattr(event, "file_url", None),
        configured_region=deps.settings.region,
        context_region=fc_context.region(context),
    )
    out.region, out.region_source = region, source
    try:
        decision = decide(event, region=region, table=deps.routes, settings=deps.settings, source_id=record.source_id)
    except (ParameterError, ConfigError) as exc:
        out.reason = f"invalid request: {exc}"
        return out
    if isinstance(decision, Skip):
        out.status, out.reason = oc.SKIPPED, decision.reason
        return out
    out.action, out.template_id = decision.action, decision.template_id
    return _submit_and_publish(event, decision, out, deps)


def _submit_and_publish(event: VodEvent, decision, out: oc.Outcome, deps: Dependencies) -> oc.Outcome:
    topic = deps.settings.callback_topic
    if not topic:
        # Checked before submitting: a paid job whose JobId cannot be published is lost work.
        out.reason = "invalid request: VODAI_CALLBACK_TOPIC: not set"
        return out
    try:
        response = deps.vod.call(decision.action, decision.region, decision.params)
        out.job_id, out.request_id = response.get("JobId"), response.get("RequestId")
        if not out.job_id:
            out.status, out.reason = oc.FAILED, f"{decision.action} answered without a JobId"
            return out
        body = job_message(event=event, decision=decision, job_id=out.job_id, request_id=out.request_id, source_id=out.source_id)
        published = deps.publisher.publish(topic, body, tag=decision.action)
    except ApiError as exc:
        out.error = exc.to_dict()
        out.status = oc.FAILED if exc.retryable else oc.REJECTED
        stage = "publish" if out.job_id else "submit"
        out.reason = f"{stage} failed: {exc.code}: {exc.message}"
        return out
    out.message_id = published.get("MessageId")
    out.status = oc.SUBMITTED
    return out
