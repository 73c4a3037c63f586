"""The routing decision for one event: submit an action with its parameters, skip with a reason, or
(for a job-completion event) publish the job's result.

Pure: given the parsed event, its region and the settings, it returns the same answer every time.
Violations of VOD's limits raise ParameterError and missing templates ConfigError, before any call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Union

from ..config import Settings
from ..events.models import AIMediaAuditComplete, OtherEvent, VodEvent
from ..exceptions import ConfigError
from .rules import SUBMIT_AI_IMAGE_AUDIT_JOB, SUBMIT_AI_IMAGE_JOB, RouteTable
from .userdata import build_user_data, media_audit_configuration


@dataclass(frozen=True, slots=True)
class Submit:
    """Submit ``action`` in ``region`` for ``media_id``: the request's parameters, ready to sign.

    ``template_id`` is None for an image audit left to the account's default template.
    """

    action: str
    region: str
    media_id: str
    template_id: Optional[str]
    params: Dict[str, str] = field(default_factory=dict)
    pipeline_id: Optional[str] = None


@dataclass(frozen=True, slots=True)
class Skip:
    """No job for this event, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Complete:
    """A job-completion event (AIMediaAuditComplete): nothing to submit; the pipeline publishes the
    job's one completion message (vodai.tracking.completion) if vodai submitted the job."""

    job_id: str
    media_id: str
    event_type: str

    @property
    def reason(self) -> str:
        return f"{self.event_type} reports the end of JobId {self.job_id}: its completion message is published once"


Decision = Union[Submit, Skip, Complete]


def decide(
    event: VodEvent,
    *,
    region: Optional[str],
    table: RouteTable,
    settings: Settings,
    source_id: Optional[str] = None,
) -> Decision:
    if isinstance(event, AIMediaAuditComplete):
        return Complete(event.job_id, event.media_id, event.event_type)
    if isinstance(event, OtherEvent):
        return Skip(f"{event.event_type} events are not routed (only uploads start AI jobs)")
    if not event.is_success:
        return Skip(f"{event.event_type} reports Status {event.status!r}, not success")
    media_type, media_id = event.media_type, event.media_id
    if media_id is None:
        return Skip(f"{event.event_type} names no media id")
    if region is None:
        return Skip(f"no region for this {media_type}: the envelope, file URL, VODAI_REGION and FC context name none")
    rules = table.rules_for(media_type)
    if not rules:
        return Skip(f"no action takes {media_type} uploads (in {region} or any region)")
    rule = next((r for r in rules if region in r.regions), None)
    if rule is None:
        offered = "; ".join(f"{r.action} is offered in {', '.join(r.regions)}" for r in rules)
        return Skip(f"no action for {media_type} uploads in {region} ({offered})")

    per_region = table.region_settings(region)
    if rule.action == SUBMIT_AI_IMAGE_JOB:
        template = per_region.ai_template_id or settings.ai_template_id
        if not template:
            raise ConfigError("VODAI_AI_TEMPLATE_ID", f"no AITemplateId for {region} (set it, or ai_template_id in the rules file)")
        pipeline = per_region.ai_pipeline_id or settings.ai_pipeline_id
        params = {
            "VideoId": media_id,
            "AITemplateId": template,
            "UserData": build_user_data(
                upload_extend=event.extend,
                event_type=event.event_type,
                media_id=media_id,
                event_time=event.event_time_text,
                source_id=source_id,
            ),
        }
        if pipeline:
            params["AIPipelineId"] = pipeline
        return Submit(rule.action, region, media_id, template, params, pipeline)

    assert rule.action == SUBMIT_AI_IMAGE_AUDIT_JOB
    # Optional: without a TemplateId VOD audits with the account's default template.
    audit_template = per_region.audit_template_id or settings.audit_template_id or None
    params = {"MediaId": media_id}
    if audit_template:
        params["TemplateId"] = audit_template
    config = media_audit_configuration(per_region.audit_resource_type or settings.audit_resource_type)
    if config:
        params["MediaAuditConfiguration"] = config
    return Submit(rule.action, region, media_id, audit_template, params)
