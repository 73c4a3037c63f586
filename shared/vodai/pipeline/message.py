"""The callback-topic message published for each submitted job."""

from __future__ import annotations

from typing import Optional

from ..events.models import VodEvent
from ..routing.decision import Submit
from ..timestamps import utc_now_text


def message_tag(action: str) -> str:
    """The MessageTag of a job's topic message: the action without "Submit" (``AIImageJob``,
    ``AIImageAuditJob``), because MNS allows a tag of at most 16 characters and
    ``SubmitAIImageAuditJob`` has 21. Subscriptions and FC topic triggers filter on it."""
    return action[len("Submit"):] if action.startswith("Submit") else action


def job_message_fields(*, event: VodEvent, decision: Submit, job_id: str, request_id: Optional[str],
                       source_id: Optional[str] = None) -> dict:
    """The message's fields, unset ones left out (the message is their compact JSON: the tracking
    record is made from the same fields, not by parsing the text back)."""
    body = {
        "JobId": job_id,
        "RequestId": request_id,
        "Action": decision.action,
        "MediaId": decision.media_id,
        "MediaType": event.media_type,
        "Region": decision.region,
        "EventType": event.event_type,
        "EventTime": event.event_time_text,
        "TemplateId": decision.template_id,
        "PipelineId": decision.pipeline_id,
        "SourceMessageId": source_id,
        "SubmittedAt": utc_now_text(),
    }
    return {k: v for k, v in body.items() if v is not None}
