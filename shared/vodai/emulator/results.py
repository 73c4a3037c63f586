"""Results of finished AI jobs, deterministic from the seed and the job's inputs.

Each result is drawn from ``random.Random("<seed>|<kind>|<media id>|<template id>")``: the same
seed, media and template give the same result whatever order jobs finish in.

Field names follow the official SDK models (``alibabacloud_vod20170321``:
``GetAIImageJobsResponseBodyAIImageJobList``, ``GetAIMediaAuditJobResponseBodyMediaAuditJobData``
and ``...DataImageResult[Result]``) and VOD's published samples:

* ``AIImageResult`` is a JSON *string*: a list of ``{"Score": <float>, "Url": "<OSS URL>"}``, the
  Url on the media's storage host under ``/<VideoId>/image/ai/<hash>-0000N.gif`` (the documented
  sample: ``[{"Score":5.035636554444242,"Url":"http://outin-….oss-cn-shanghai.aliyuncs.com/357a…/image/ai/b0a7…-00001.gif"}]``).
  Other keys (e.g. a ``Time``) are not in the sample, so the emulator sends none.
* audit ``Data``: ``Suggestion`` (pass/review/block), ``Label`` (normal or the scene that hit:
  porn, terrorism, ad, live, logo), ``AbnormalModules``, ``ImageResult[]`` (``Type``, ``Url``,
  ``Suggestion``, ``Label``, ``Result[]`` of ``Scene``/``Label``/``Suggestion``/``Score``, Score a
  string as in the samples), ``AudioResult: []``, ``TextResult: []``. For an image audit,
  ``Type: "cover"`` (the only documented value) and ``AbnormalModules: "image-cover"`` when the
  suggestion is not pass are unconfirmed.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any, Dict, List, Optional

SCENES = ("porn", "terrorism", "ad", "live", "logo")
# A finer label per scene when it hits (values from the SDK model's documentation).
_HIT_LABELS = {
    "porn": ("porn", "sexy"),
    "terrorism": ("bloody", "explosion", "weapon", "flag"),
    "ad": ("ad", "qrcode", "spam"),
    "live": ("meaningless", "PIP", "smoking"),
    "logo": ("TV", "trademark"),
}
# How often each overall suggestion is drawn when a rule does not force one.
_SUGGESTION_WEIGHTS = (("pass", 0.8), ("review", 0.15), ("block", 0.05))


def _rng(seed: Optional[int], kind: str, media_id: str, template_id: str) -> random.Random:
    return random.Random(f"{seed}|{kind}|{media_id}|{template_id}")


def ai_image_result(
    seed: Optional[int], *, video_id: str, template_id: str, oss_host: str
) -> str:
    """The ``AIImageResult`` JSON string of a finished SubmitAIImageJob."""
    rng = _rng(seed, "AIImage", video_id, template_id)
    stem = hashlib.sha256(f"{seed}|{video_id}|{template_id}".encode()).hexdigest()[:32]
    count = rng.randint(1, 3)
    images: List[Dict[str, Any]] = [
        {"Score": rng.uniform(3.0, 9.9), "Url": f"http://{oss_host}/{video_id}/image/ai/{stem}-{n:05d}.gif"}
        for n in range(1, count + 1)
    ]
    images.sort(key=lambda image: image["Score"], reverse=True)
    return json.dumps(images, separators=(",", ":"))


def _draw_suggestion(rng: random.Random) -> str:
    point, total = rng.random(), 0.0
    for suggestion, weight in _SUGGESTION_WEIGHTS:
        total += weight
        if point < total:
            return suggestion
    return "pass"


def audit_data(
    seed: Optional[int],
    *,
    media_id: str,
    template_id: str,
    image_url: str,
    suggestion: Optional[str] = None,
) -> dict[str, Any]:
    """The ``Data`` of a finished SubmitAIImageAuditJob (GetAIMediaAuditJob, AIMediaAuditComplete)."""
    rng = _rng(seed, "AIImageAudit", media_id, template_id)
    drawn = _draw_suggestion(rng)
    overall = suggestion or drawn
    hit_scene = rng.choice(SCENES) if overall != "pass" else None
    results = []
    for scene in SCENES:
        if scene == hit_scene:
            low, high = (90.0, 100.0) if overall == "block" else (60.0, 90.0)
            results.append(
                {
                    "Scene": scene,
                    "Label": rng.choice(_HIT_LABELS[scene]),
                    "Suggestion": overall,
                    "Score": f"{rng.uniform(low, high):.2f}",
                }
            )
        else:
            results.append(
                {"Scene": scene, "Label": "normal", "Suggestion": "pass", "Score": f"{rng.uniform(95.0, 100.0):.2f}"}
            )
    label = hit_scene or "normal"
    return {
        "Suggestion": overall,
        "Label": label,
        "AbnormalModules": "image-cover" if hit_scene else "",
        "ImageResult": [
            {"Type": "cover", "Url": image_url, "Suggestion": overall, "Label": label, "Result": results}
        ],
        "AudioResult": [],
        "TextResult": [],
    }


__all__ = ["SCENES", "ai_image_result", "audit_data"]
