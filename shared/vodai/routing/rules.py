"""The declarative route table: which action serves which media type in which regions.

The default follows VOD's documented availability: SubmitAIImageJob for video in cn-beijing and
cn-shanghai, SubmitAIImageAuditJob for images in ap-southeast-1. A rules file (``VODAI_ROUTES``,
JSON or YAML) replaces it, and may set per-region templates, pipelines and resource types::

    rules:
      - {action: SubmitAIImageJob, media_types: [video], regions: [cn-beijing, cn-shanghai]}
      - {action: SubmitAIImageAuditJob, media_types: [image], regions: [ap-southeast-1, cn-shanghai]}
    regions:
      cn-shanghai: {ai_template_id: tpl-sh, ai_pipeline_id: pipe-sh, audit_template_id: audit-sh}
      ap-southeast-1: {audit_template_id: audit-sg, audit_resource_type: Image_Audit}
"""

# No `from __future__ import annotations` in this module: pydantic would have to evaluate each
# annotation from its text when it creates the model classes, at every cold start.
import json
from pathlib import Path
from typing import Dict, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..exceptions import ConfigError

SUBMIT_AI_IMAGE_JOB = "SubmitAIImageJob"
SUBMIT_AI_IMAGE_AUDIT_JOB = "SubmitAIImageAuditJob"
ACTIONS = (SUBMIT_AI_IMAGE_JOB, SUBMIT_AI_IMAGE_AUDIT_JOB)

MediaType = Literal["video", "audio", "image", "attached"]


# The validators of these models are built the first time a rules file is read (defer_build):
# a cold start with the default table never needs them (3 ms of a Python 3.10 cold start).
_CONFIG = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Rule(BaseModel):
    model_config = _CONFIG

    action: Literal["SubmitAIImageJob", "SubmitAIImageAuditJob"]
    media_types: List[MediaType] = Field(min_length=1)
    regions: List[str] = Field(min_length=1)


class RegionSettings(BaseModel):
    """Per-region values; anything unset falls back to the ``VODAI_*`` settings."""

    model_config = _CONFIG

    ai_template_id: Optional[str] = None
    ai_pipeline_id: Optional[str] = None
    audit_template_id: Optional[str] = None
    audit_resource_type: Optional[str] = None


class RouteTable(BaseModel):
    model_config = _CONFIG

    rules: List[Rule]
    regions: Dict[str, RegionSettings] = Field(default_factory=dict)

    def rules_for(self, media_type: Optional[str]) -> List[Rule]:
        return [r for r in self.rules if media_type in r.media_types]

    def region_settings(self, region: str) -> RegionSettings:
        return self.regions.get(region, _NO_REGION_SETTINGS)


# Built without validation (model_construct): constants, checked against the validating
# constructors by tests/unit/test_routing.py.
_NO_REGION_SETTINGS = RegionSettings.model_construct()
DEFAULT_TABLE = RouteTable.model_construct(
    rules=[
        Rule.model_construct(action=SUBMIT_AI_IMAGE_JOB, media_types=["video"], regions=["cn-beijing", "cn-shanghai"]),
        Rule.model_construct(action=SUBMIT_AI_IMAGE_AUDIT_JOB, media_types=["image"], regions=["ap-southeast-1"]),
    ]
)


def load_table(path: Optional[str]) -> RouteTable:
    """The table in ``path`` (JSON, or YAML by its extension), or the default when None."""
    if not path:
        return DEFAULT_TABLE
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("VODAI_ROUTES", f"cannot read {path}: {exc.strerror}") from None
    try:
        if file.suffix.lower() in (".yml", ".yaml"):
            import yaml  # only when a YAML rules file is used: kept off the cold path otherwise

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # the parsers' error classes differ; both mean "not readable"
        raise ConfigError("VODAI_ROUTES", f"{path} is not valid {file.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    try:
        return RouteTable.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise ConfigError("VODAI_ROUTES", f"{path}: {where}: {err['msg']}") from None
