"""Pydantic models of the VOD event bodies (the same JSON arrives by HTTP callback and MNS).

Parsing is defensive because VOD is inconsistent: ``FileUrl`` on video events but ``FileURL``
on images, numbers sometimes as strings, ``Extend`` as a string holding JSON, and two
EventTime formats (``2017-03-20T07:49:17Z`` and ``2024-04-10T01:37:14:627Z``).
"""

# No `from __future__ import annotations` in this module: pydantic would have to evaluate each
# annotation from its text when it creates the model classes, at every cold start.
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Dict, Mapping, Optional, Type, Union

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..exceptions import EventError

# Extensions VOD accepts for audio; any other FileUploadComplete is a video.
AUDIO_EXTENSIONS = frozenset(
    {"mp3", "m4a", "wav", "wma", "aac", "flac", "ogg", "ape", "amr", "opus", "aif", "aiff", "mid"}
)

_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.:](\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?$"
)


def json_in_text(value: Any) -> Any:
    """The value of JSON held in a string (VOD nests JSON in strings: Extend, Data, AIImageResult);
    empty text is None, text that is not JSON and anything else are returned as they are.
    JSON nested too deep to read raises ValueError (a validation error where a model reads it)."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except RecursionError:
            raise ValueError("JSON nested too deep") from None
        except ValueError:
            return value
    return value


def parse_event_time(value: Any) -> datetime:
    """Both VOD formats, plus ISO 8601 with a dot before the fraction; naive means UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    match = _TIME.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a time like 2017-03-20T07:49:17Z")
    y, mo, d, h, mi, s, frac, zone = match.groups()
    micro = int((frac or "0").ljust(6, "0"))
    stamp = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=UTC)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        stamp = stamp - sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp


class VodEvent(BaseModel):
    """Fields common to every VOD event; unknown fields are kept (``extra="allow"``)."""

    # defer_build: each event type's validator is built when the first event of that type comes,
    # not at import: a cold start meets one type, and building all seven cost 5.5 ms on FC's 3.10.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)

    event_type: str = Field(alias="EventType", min_length=1)
    event_time: Optional[datetime] = Field(None, alias="EventTime")
    status: Optional[str] = Field(None, alias="Status")
    # The upload's UserData.Extend: a string holding JSON, kept as a string when it is not JSON.
    extend: Optional[Union[Dict[str, Any], list, str]] = Field(None, alias="Extend")
    # The EventTime text as VOD sent it: the topic message repeats it unchanged. A field read
    # from the same key rather than a private attribute, which pydantic serves through a slow
    # __getattr__ and initialises on every validation.
    event_time_sent: Optional[str] = Field(None, validation_alias="EventTime", exclude=True, repr=False)

    @field_validator("event_time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        return parse_event_time(value)

    @field_validator("event_time_sent", mode="before")
    @classmethod
    def _time_sent(cls, value: Any) -> Any:
        return value if isinstance(value, str) and value else None

    @field_validator("extend", mode="before")
    @classmethod
    def _extend(cls, value: Any) -> Any:
        return json_in_text(value)

    #: Which kind of media the event is about; None when it is not an upload.
    @property
    def media_type(self) -> Optional[str]:
        return None

    @property
    def media_id(self) -> Optional[str]:
        return None

    @property
    def event_time_text(self) -> Optional[str]:
        """The EventTime as VOD sent it (the parsed form loses the original format)."""
        if self.event_time_sent is not None:
            return self.event_time_sent
        return self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ") if self.event_time else None

    @property
    def is_success(self) -> bool:
        return (self.status or "success").lower() == "success"


class _UploadEvent(VodEvent):
    size: Optional[int] = Field(None, alias="Size", ge=0)
    file_url: Optional[str] = Field(None, validation_alias=AliasChoices("FileUrl", "FileURL"))


class FileUploadComplete(_UploadEvent):
    video_id: str = Field(alias="VideoId", min_length=1)

    @property
    def media_id(self) -> str:
        return self.video_id

    @property
    def media_type(self) -> str:
        path = (self.file_url or "").split("?", 1)[0]
        ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        return "audio" if ext in AUDIO_EXTENSIONS else "video"


class ImageUploadComplete(_UploadEvent):
    image_id: str = Field(alias="ImageId", min_length=1)
    app_id: Optional[str] = Field(None, alias="AppId")

    @property
    def media_id(self) -> str:
        return self.image_id

    @property
    def media_type(self) -> str:
        return "image"


class AttachedMediaUploadComplete(_UploadEvent):
    attached_media_id: str = Field(alias="AttachedMediaId", min_length=1)

    @property
    def media_id(self) -> str:
        return self.attached_media_id

    @property
    def media_type(self) -> str:
        return "attached"


class AIMediaAuditComplete(VodEvent):
    """An audit job finished (VOD sends it for image audits too; ``MediaId`` is then the image id).

    ``Data`` is documented as an object; a JSON string is read too, and anything else is kept as
    it came (the result summary says when it could not be read). ``Code`` may arrive as a number.
    """

    job_id: str = Field(alias="JobId", min_length=1)
    audit_media_id: str = Field(alias="MediaId", min_length=1)
    code: Optional[str] = Field(None, alias="Code")
    message: Optional[str] = Field(None, alias="Message")
    data: Optional[Any] = Field(None, alias="Data")

    @field_validator("job_id", "audit_media_id", "code", "message", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return json_in_text(value)

    @property
    def media_id(self) -> str:
        return self.audit_media_id


class OtherEvent(VodEvent):
    """Any other EventType (VideoAnalysisComplete, AIMediaDNAComplete, ...): recognised, not routed."""

    @property
    def media_id(self) -> Optional[str]:
        extra = self.model_extra or {}
        for key in ("VideoId", "MediaId", "ImageId", "AttachedMediaId"):
            if extra.get(key):
                return str(extra[key])
        return None


EVENT_TYPES: Dict[str, Type[VodEvent]] = {
    "FileUploadComplete": FileUploadComplete,
    "ImageUploadComplete": ImageUploadComplete,
    "AttachedMediaUploadComplete": AttachedMediaUploadComplete,
    "AIMediaAuditComplete": AIMediaAuditComplete,
}


def parse_event(body: Any) -> VodEvent:
    """A VOD event body (a dict) as its model; EventError names the field and the reason."""
    if not isinstance(body, dict):
        raise EventError("body", f"expected a JSON object, got {type(body).__name__}")
    event_type = body.get("EventType")
    if event_type is None or event_type == "":
        raise EventError("EventType", "missing: this is not a VOD event")
    if not isinstance(event_type, str):
        raise EventError("EventType", f"expected a string, got {type(event_type).__name__}")
    model = EVENT_TYPES.get(event_type, OtherEvent)
    try:
        event = model.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        field = str(loc[0]) if loc else "body"
        raise EventError(field, _reason(err)) from None
    return event


def _reason(err: Mapping[str, Any]) -> str:
    msg = err.get("msg", "invalid")
    if err.get("type") == "missing":
        return "missing"
    given = err.get("input")
    if isinstance(given, (str, int, float)) and len(str(given)) <= 80:
        return f"{msg} (got {given!r})"
    return msg
