"""The VOD actions the emulator serves: parameter rules and the jobs they create.

Each action takes the merged request parameters and the resolved region and returns the
success body without RequestId (the protocol layer adds it). Media are accepted leniently by
default (any VideoId/MediaId is taken as existing); with ``backend.strict_media`` a submit on a
media the emulator never saw (uploaded or seeded, in that region, of that kind) fails as VOD
does.

| Action | Served in (default) | Errors (besides signature, region and faults) |
|---|---|---|
| SubmitAIImageJob | cn-shanghai, cn-beijing | MissingParameter (VideoId, AITemplateId); InvalidParameter (UserData over 512 bytes, not a JSON object, keys other than MessageCallback/Extend, neither of them, Extend not a string or object, MessageCallback not an object); InvalidVideo.NotFound 404 (strict media) |
| SubmitAIImageAuditJob | ap-southeast-1 | MissingParameter (MediaId; TemplateId may be left out: the account's default template is used); InvalidParameter (MediaAuditConfiguration not {"ResourceType": letters/digits/_}); InvalidImage.NotFound 404 (strict media, code unconfirmed) |
| GetAIImageJobs | cn-shanghai, cn-beijing | MissingParameter (JobIds); InvalidParameter (more than 10 ids). Unknown ids are left out of AIImageJobList (the SDK model has no NonExist field) |
| GetAIMediaAuditJob | ap-southeast-1 | MissingParameter (JobId). An unknown id gives a body without MediaAuditJob (unconfirmed) |
| GetVideoInfo | every region above | MissingParameter (VideoId); InvalidVideo.NotFound 404 (a media it has of another region or kind; with strict media also one it never saw) |
| SearchMedia | every region above | InvalidParameter (SearchType, PageSize over 100, SortBy other than CreationTime:Asc/Desc, Match other than a CreationTime range, PageNo*PageSize past 5,000 without ScrollToken, a ScrollToken it never gave) |
| GetImageInfo | every region above | MissingParameter (ImageId); InvalidImage.NotFound 404 (as GetVideoInfo; code unconfirmed) |

SearchMedia serves ``Match`` = ``CreationTime = ('FROM','TO')`` (both ends included, unconfirmed)
and pages either by PageNo/PageSize (the first 5,000 results only, as VOD documents) or by
ScrollToken: each answer carries a token for the page after it, so all results can be walked.

GetVideoInfo and GetImageInfo show a media's recorded Status (``set_media_status``); leniently,
a media never seen is shown as uploaded.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Callable, Mapping, Optional

from .backend import AI_IMAGE, AI_IMAGE_AUDIT, EmulatorBackend, utc_timestamp
from .errors import EmulatorError, invalid_parameter, missing_parameter
from .lifecycle import PROCESSING

USER_DATA_MAX_BYTES = 512
# UserData may hold only these keys (VOD's UserData reference).
USER_DATA_KEYS = frozenset({"MessageCallback", "Extend"})
MAX_JOB_IDS = 10
# A job has just been accepted; the lifecycle (vodai.emulator.lifecycle) moves it on.
INITIAL_STATUS = PROCESSING
# GetAIMediaAuditJob's Type (the documented sample's value).
AUDIT_JOB_TYPE = "AIMediaAudit"
_RESOURCE_TYPE = re.compile(r"^[A-Za-z0-9_]+$")
# The media kinds each submit accepts in strict media mode.
_VIDEO_MEDIA = ("video", "audio")
_IMAGE_MEDIA = ("image",)

Action = Callable[[EmulatorBackend, Mapping[str, str], str], dict[str, Any]]


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise missing_parameter(name)
    return value


def _check_lengths(backend: EmulatorBackend, params: Mapping[str, str]) -> None:
    for name, limit in backend.param_max_lengths.items():
        value = params.get(name)
        if value is not None and len(value) > limit:
            raise invalid_parameter(name, f"It must be at most {limit} characters.")


def _json_object(name: str, value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise invalid_parameter(name, "It must be a JSON object.") from None
    if not isinstance(parsed, dict):
        raise invalid_parameter(name, "It must be a JSON object.")
    return parsed


def _check_user_data(user_data: Mapping[str, Any]) -> None:
    extra = sorted(set(user_data) - USER_DATA_KEYS)
    if extra:
        raise invalid_parameter(
            "UserData", f"Only MessageCallback and Extend are allowed, not {', '.join(extra)}."
        )
    if not user_data:
        raise invalid_parameter("UserData", "It must hold MessageCallback or Extend (or both).")
    if "Extend" in user_data and not isinstance(user_data["Extend"], (str, dict)):
        raise invalid_parameter("UserData", "Extend must be a JSON object or a string.")
    if "MessageCallback" in user_data and not isinstance(user_data["MessageCallback"], dict):
        raise invalid_parameter("UserData", "MessageCallback must be a JSON object.")


def _new_job(backend: EmulatorBackend, job_type: str, region: str, **fields: Any) -> dict[str, Any]:
    return {
        "JobId": uuid.uuid4().hex,
        "Type": job_type,
        "Region": region,
        "Status": INITIAL_STATUS,
        "Code": "",
        "Message": "",
        "CreationTime": utc_timestamp(backend.clock.now()),
        **fields,
    }


def submit_ai_image_job(
    backend: EmulatorBackend, params: Mapping[str, str], region: str
) -> dict[str, Any]:
    video_id = _required(params, "VideoId")
    template_id = _required(params, "AITemplateId")
    _check_lengths(backend, params)
    user_data = params.get("UserData", "")
    if user_data:
        if len(user_data.encode("utf-8")) > USER_DATA_MAX_BYTES:
            raise invalid_parameter("UserData", f"It must be at most {USER_DATA_MAX_BYTES} bytes.")
        _check_user_data(_json_object("UserData", user_data))
    if backend.strict_media and backend.find_media(video_id, region, _VIDEO_MEDIA) is None:
        raise EmulatorError(404, "InvalidVideo.NotFound", "The video does not exist.")
    job = backend.submit_job(
        "SubmitAIImageJob",
        _new_job(
            backend,
            AI_IMAGE,
            region,
            VideoId=video_id,
            TemplateId=template_id,
            # The snapshot of the template's configuration (the documented sample's value).
            TemplateConfig='{"Format":"gif","SetDefaultCover":"true"}',
            AIPipelineId=params.get("AIPipelineId", ""),
            UserData=user_data,
            AIImageResult="",
        ),
    )
    return {"JobId": job["JobId"]}


def submit_ai_image_audit_job(
    backend: EmulatorBackend, params: Mapping[str, str], region: str
) -> dict[str, Any]:
    media_id = _required(params, "MediaId")
    # Documented as defaulting to the account's default template when left out, and the
    # official SDK lets it be left out; "" in the job record stands for that default.
    template_id = params.get("TemplateId", "")
    _check_lengths(backend, params)
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
    if backend.strict_media and backend.find_media(media_id, region, _IMAGE_MEDIA) is None:
        # Unconfirmed code: VOD's docs name none for an unknown image in this action.
        raise EmulatorError(404, "InvalidImage.NotFound", "The image does not exist.")
    job = backend.submit_job(
        "SubmitAIImageAuditJob",
        _new_job(
            backend,
            AI_IMAGE_AUDIT,
            region,
            MediaId=media_id,
            TemplateId=template_id,
            MediaAuditConfiguration=config,
        ),
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
    # Jobs are regional, and other job types are not AI image jobs: both stay unseen, as do
    # unknown ids (GetAIImageJobs has no NonExist list, unlike ListAIJob).
    jobs = backend.query_jobs(job_ids, job_type=AI_IMAGE, region=region)
    return {"AIImageJobList": [{k: job.get(k, "") for k in _AI_IMAGE_JOB_FIELDS} for job in jobs]}


def get_ai_media_audit_job(
    backend: EmulatorBackend, params: Mapping[str, str], region: str
) -> dict[str, Any]:
    job_id = _required(params, "JobId").strip()
    found = backend.query_jobs([job_id], job_type=AI_IMAGE_AUDIT, region=region)
    if not found:
        # Unconfirmed: VOD documents no error for an unknown JobId; the body then has no job.
        return {}
    return {"MediaAuditJob": media_audit_job(found[0])}


def media_audit_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """A job as GetAIMediaAuditJob's ``MediaAuditJob`` (the SDK model's fields)."""
    shown: dict[str, Any] = {
        "JobId": job["JobId"],
        "MediaId": job["MediaId"],
        "Type": AUDIT_JOB_TYPE,
        "Status": job["Status"],
        "Code": job.get("Code", ""),
        "Message": job.get("Message", ""),
        "CreationTime": job["CreationTime"],
    }
    if job.get("CompleteTime"):
        shown["CompleteTime"] = job["CompleteTime"]
    if job["Status"] != PROCESSING:
        shown["Data"] = copy.deepcopy(job.get("Data") or {})
    return shown


def _shown_media(backend: EmulatorBackend, media_id: str, region: str, kinds: tuple, not_found: EmulatorError) -> dict:
    """The media as recorded; leniently, one never seen is shown as just uploaded."""
    media = backend.find_media(media_id, region, kinds)
    if media is not None:
        return media
    if backend.strict_media or backend.get_media(media_id) is not None:
        raise not_found  # media are regional: another region's (or kind's) is not found here either
    return {"FileName": media_id, "Size": 0, "CreationTime": utc_timestamp(backend.clock.now()), "FileUrl": ""}


def get_video_info(backend: EmulatorBackend, params: Mapping[str, str], region: str) -> dict[str, Any]:
    """``Video`` as the official SDK's model has it (the fields vodai and a reader need)."""
    video_id = _required(params, "VideoId")
    media = _shown_media(backend, video_id, region, _VIDEO_MEDIA,
                         EmulatorError(404, "InvalidVideo.NotFound", "The video does not exist."))
    return {"Video": {
        "VideoId": video_id, "Status": media.get("Status", "UploadSucc"), "RegionId": region,
        "Title": media["FileName"], "Size": media["Size"], "CreationTime": media["CreationTime"],
        "StorageLocation": f"outin-{region}.oss-{region}.aliyuncs.com",
    }}


def get_image_info(backend: EmulatorBackend, params: Mapping[str, str], region: str) -> dict[str, Any]:
    """``ImageInfo`` as the official SDK's model has it."""
    image_id = _required(params, "ImageId")
    media = _shown_media(backend, image_id, region, _IMAGE_MEDIA,
                         EmulatorError(404, "InvalidImage.NotFound", "The image does not exist."))
    return {"ImageInfo": {
        "ImageId": image_id, "Status": media.get("Status", "Normal"), "Type": "default",
        "Title": media["FileName"], "CreationTime": media["CreationTime"], "URL": media["FileUrl"],
    }}


SEARCH_MAX_PAGE_SIZE = 100
# Results reachable with PageNo/PageSize alone (VOD: "the first 5,000 records").
SEARCH_MAX_WINDOW = 5000
_SEARCH_TYPES = {"video": ("video",), "audio": ("audio",), "image": ("image",), "attached": ("attached",)}
_CREATION_RANGE = re.compile(r"^\s*CreationTime\s*=\s*\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)\s*$")


def _search_time(text: str) -> Optional[float]:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise invalid_parameter("Match", "CreationTime must be yyyy-MM-ddTHH:mm:ssZ (UTC).") from None


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name) or str(default)
    if not text.isdigit() or not low <= int(text) <= high:
        raise invalid_parameter(name, f"It must be an integer from {low} to {high}.")
    return int(text)


def search_media(backend: EmulatorBackend, params: Mapping[str, str], region: str) -> dict[str, Any]:
    """``MediaList``, ``Total`` and ``ScrollToken`` as the official SDK's model has them."""
    search_type = params.get("SearchType") or "video"
    if search_type not in _SEARCH_TYPES:
        raise invalid_parameter("SearchType", "It must be video, audio, image or attached.")
    page_size = _int_param(params, "PageSize", 10, 1, SEARCH_MAX_PAGE_SIZE)
    token = params.get("ScrollToken", "")
    if token:
        held = backend.scroll(token)
        if held is None:
            raise invalid_parameter("ScrollToken", "It is not a token this service gave.")
        ids, position = held
    else:
        sort_by = params.get("SortBy") or "CreationTime:Desc"
        if sort_by not in ("CreationTime:Asc", "CreationTime:Desc"):
            raise invalid_parameter("SortBy", "The emulator sorts by CreationTime:Asc or CreationTime:Desc only.")
        since = until = None
        match = params.get("Match", "")
        if match:
            found = _CREATION_RANGE.match(match)
            if not found:
                raise invalid_parameter("Match", "The emulator serves CreationTime = ('FROM','TO') only.")
            since, until = _search_time(found.group(1)), _search_time(found.group(2))
        ids = backend.search_media(region, _SEARCH_TYPES[search_type], since=since,
                                   until=None if until is None else until + 1, descending=sort_by.endswith("Desc"))
        page_no = _int_param(params, "PageNo", 1, 1, 10**9)
        position = (page_no - 1) * page_size
        if position + page_size > SEARCH_MAX_WINDOW:
            raise invalid_parameter("PageNo", f"PageNo*PageSize reaches past the first {SEARCH_MAX_WINDOW} results: use ScrollToken.")
    page = ids[position:position + page_size]
    key = {"video": "Video", "audio": "Audio", "image": "Image", "attached": "AttachedMedia"}[search_type]
    return {"Total": len(ids), "ScrollToken": backend.open_scroll(ids, position + len(page)),
            "MediaList": [_search_item(record, key, region) for record in backend.media_records(page)]}


def _search_item(record: Mapping[str, Any], key: str, region: str) -> dict[str, Any]:
    media_id = record["MediaId"]
    common = {"Title": record["FileName"], "CreationTime": record["CreationTime"], "Status": record["Status"],
              "StorageLocation": f"outin-{region}.oss-{region}.aliyuncs.com", "Size": record["Size"]}
    if key == "Image":
        shown = {"ImageId": media_id, "URL": record["FileUrl"], "AppId": "app-1000000", **common}
    elif key == "AttachedMedia":
        shown = {"MediaId": media_id, "URL": record["FileUrl"], **common}
    else:
        shown = {"VideoId" if key == "Video" else "AudioId": media_id, **common}
    return {"MediaType": record["MediaType"], "MediaId": media_id, "CreationTime": record["CreationTime"], key: shown}


ACTIONS: dict[str, Action] = {
    "SubmitAIImageJob": submit_ai_image_job,
    "SubmitAIImageAuditJob": submit_ai_image_audit_job,
    "GetAIImageJobs": get_ai_image_jobs,
    "GetAIMediaAuditJob": get_ai_media_audit_job,
    "GetVideoInfo": get_video_info,
    "GetImageInfo": get_image_info,
    "SearchMedia": search_media,
}
