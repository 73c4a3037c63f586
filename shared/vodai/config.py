"""Settings, read from ``VODAI_*`` environment variables into a pydantic model.

A plain model filled from ``os.environ`` rather than pydantic-settings: the latter adds about
0.3 s to the import, and the handler's cold start is billed.
"""

from __future__ import annotations

import os
from typing import Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .exceptions import ConfigError

ENV_PREFIX = "VODAI_"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Region used when neither the envelope nor the file URL names one.
    region: Optional[str] = None
    #: SubmitAIImageJob's AITemplateId (a rules file can set it per region).
    ai_template_id: Optional[str] = None
    #: SubmitAIImageJob's optional AIPipelineId.
    ai_pipeline_id: Optional[str] = None
    #: SubmitAIImageAuditJob's TemplateId.
    audit_template_id: Optional[str] = None
    #: MediaAuditConfiguration.ResourceType for image audit (letters, digits, underscore).
    audit_resource_type: Optional[str] = None
    #: Path of a rules file (JSON or YAML) that replaces the default route table.
    routes: Optional[str] = None
    #: The MNS topic that receives one message per submitted job.
    callback_topic: Optional[str] = None
    #: Region of the callback topic; defaults to the function's region.
    mns_region: Optional[str] = None
    #: Account id for the MNS endpoint; defaults to the FC context's account id.
    account_id: Optional[str] = None
    #: Base URL overriding every VOD endpoint, e.g. http://127.0.0.1:9100 (the emulator).
    vod_endpoint: Optional[str] = None
    #: Base URL overriding the MNS endpoint.
    mns_endpoint: Optional[str] = None
    #: Signature for VOD calls: v3 (ACS3-HMAC-SHA256, as the current SDK) or v1 (HMAC-SHA1).
    signature_version: Literal["v3", "v1"] = "v3"
    #: Seconds to wait for a connection / for a response.
    connect_timeout: float = Field(3.05, gt=0)
    read_timeout: float = Field(10.0, gt=0)

    @field_validator("vod_endpoint", "mns_endpoint")
    @classmethod
    def _base_url(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a base URL starting with http:// or https://")
        return value

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """Read every ``VODAI_<FIELD>`` variable; unknown ``VODAI_*`` names are ignored."""
        env = os.environ if environ is None else environ
        values = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw.strip() != "":
                values[name] = raw.strip()
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            raise ConfigError(ENV_PREFIX + field.upper(), err["msg"]) from None
