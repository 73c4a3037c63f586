"""The VOD actions the emulator serves: parameter rules and the jobs they create.

Each action takes the merged request parameters and the resolved region and returns the
success body without RequestId (the protocol layer adds it). Media are accepted leniently:
any VideoId/MediaId is taken as existing.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Callable, Mapping

from .backend import EmulatorBackend, utc_timestamp
from .errors import invalid_parameter, missing_parameter

USER_DATA_MAX_BYTES = 512
MAX_JOB_IDS = 10
# A job has just been accepted; a later issue adds the success/fail lifecycle.
INITIAL_STATUS = "Processing"
AI_IMAGE = "AIImage"
AI_IMAGE_AUDIT = "AIImageAudit"
_RESOURCE_TYPE = re.compile(r"^[A-Za-z0-9_]+$")

Action = Callable[[EmulatorBackend, Mapping[str, str], str], dict[str, Any]]


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise missing_parameter(name)
    return value


def _json_object(name: str, value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise invalid_parameter(name, "It must be a JSON object.") from None
    if not isinstance(parsed, dict):
        raise invalid_parameter(name, "It must be a JSON object.")
    return parsed


def _new_job(job_type: str, region: str, **fields: Any) -> dict[str, Any]:
    return {
        "JobId": uuid.uuid4().hex,
        "Type": job_type,
        "Region": region,
        "Status": INITIAL_STATUS,
        "Code": "",
        "Message": "",
        "CreationTime": utc_timestamp(time.time()),
        **fields,
    }


def submit_ai_image_job(
    backend: EmulatorBackend, params: Mapping[str, str], region: str
) -> dict[str, Any]:
    video_id = _required(params, "VideoId")
    template_id = _required(params, "AITemplateId")
    user_data = params.get("UserData", "")
    if user_data:
        if len(user_data.encode("utf-8")) > USER_DATA_MAX_BYTES:
            raise invalid_parameter("UserData", f"It must be at most {USER_DATA_MAX_BYTES} bytes.")
        _json_object("UserData", user_data)
    job = backend.add_job(
        _new_job(
            AI_IMAGE,
            region,
            VideoId=video_id,
            TemplateId=template_id,
            TemplateConfig="",
            AIPipelineId=params.get("AIPipelineId", ""),
            UserData=user_data,
            AIImageResult="",
        )
    )
    return {"JobId": job["JobId"]}


def submit_ai_image_audit_job(
    backend: EmulatorBackend, params: Mapping[str, str], region: str
) -> dict[str, Any]:
    media_id = _required(params, "MediaId")
    template_id = _required(params, "TemplateId")
    config = params.get("MediaAuditConfiguration", "")
    if config:
        parsed = _json_object("MediaAuditConfiguration", config)
        resource_type = parsed.get("ResourceType")
        if set(parsed) != {"ResourceType"} or not (
            isinstance(resource_type, str) and _RESOURCE_TYPE.match(resource_type)
        ):
            raise invalid_parameter(
                "MediaAuditConfiguration",
                "Only ResourceType is allowed, made of letters, digits and underscores.",
            )
    job = backend.add_job(
        _new_job(
            AI_IMAGE_AUDIT,
            region,
            MediaId=media_id,
            TemplateId=template_id,
            MediaAuditConfiguration=config,
        )
    )
    return {"JobId": job["JobId"]}


# What GetAIImageJobs shows of a job (the official SDK's AIImageJobList item).
_AI_IMAGE_JOB_FIELDS = (
    "JobId",
    "VideoId",
    "Status",
    "Code",
    "Message",
    "CreationTime",
    "AIImageResult",
    "TemplateId",
    "TemplateConfig",
    "UserData",
)


def get_ai_image_jobs(
    backend: EmulatorBackend, params: Mapping[str, str], region: str
) -> dict[str, Any]:
    raw = _required(params, "JobIds").split(",")
    job_ids = [i for i in dict.fromkeys(part.strip() for part in raw) if i]
    if not job_ids:
        raise missing_parameter("JobIds")
    if len(job_ids) > MAX_JOB_IDS:
        raise invalid_parameter("JobIds", f"At most {MAX_JOB_IDS} job IDs are allowed.")
    found = []
    for job_id in job_ids:
        job = backend.get_job(job_id)
        # Jobs are regional, and other job types are not AI image jobs: both stay unseen.
        if job is not None and job["Type"] == AI_IMAGE and job["Region"] == region:
            found.append({k: job[k] for k in _AI_IMAGE_JOB_FIELDS})
    return {"AIImageJobList": found}


ACTIONS: dict[str, Action] = {
    "SubmitAIImageJob": submit_ai_image_job,
    "SubmitAIImageAuditJob": submit_ai_image_audit_job,
    "GetAIImageJobs": get_ai_image_jobs,
}
