"""What VOD says about a finished job, read defensively, and the short summary users get.

- ``GetAIImageJobs``: ``AIImageJobList[]`` items with ``Status``, ``Code``, ``Message`` and
  ``AIImageResult``, a *string* holding JSON, documented as ``[{"Score": 5.03, "Url": "http://…"}]``.
  Scores may come as strings, the list may be wrapped in an object, keys may vary in case.
- ``GetAIMediaAuditJob``: ``MediaAuditJob{Status, Code, Message, CompleteTime, Data}`` and the
  ``AIMediaAuditComplete`` event: ``Status``, ``Code``, ``Message``, ``Data`` (an object; read a
  JSON string too). ``Data`` has ``Suggestion`` (block/review/pass), ``Label``, ``AbnormalModules``
  and ``ImageResult[]`` (``Url``, ``Suggestion``, ``Label``, ``Type``, ``Result[]{Scene, Label, Score, Suggestion}``).

Statuses are compared case-insensitively: ``success``; ``fail`` or ``failed``; anything else
(``Processing``, ``init``, …) means the job is still running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..events.models import json_in_text
from .base import FAIL, SUCCESS

AI_IMAGE = "SubmitAIImageJob"
AI_IMAGE_AUDIT = "SubmitAIImageAuditJob"
#: How many of the best images (by score) a summary names.
BEST_IMAGES = 3
_SUGGESTIONS = ("block", "review", "pass")


def final_status(raw: Any) -> Optional[str]:
    """``success`` or ``fail`` for a finished job; None while it is running (or the status is unknown)."""
    text = str(raw or "").strip().lower()
    if text == "success":
        return SUCCESS
    if text in ("fail", "failed"):
        return FAIL
    return None


@dataclass
class JobResult:
    """A finished job as VOD reported it (by a poll or an event)."""

    job_id: str
    status: str  # success | fail
    code: Optional[str] = None
    message: Optional[str] = None
    summary: Optional[dict] = None
    #: When VOD says the job finished (CompleteTime); None when VOD does not say (AI image jobs).
    complete_time: Optional[str] = None
    #: "poll" or "event": which path saw it first.
    detected_by: str = "poll"


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _get(doc: Any, *names: str) -> Any:
    """The first of ``names`` present in ``doc``, case-insensitively."""
    if not isinstance(doc, dict):
        return None
    lowered = {str(k).lower(): v for k, v in doc.items()}
    for name in names:
        if name in doc:
            return doc[name]
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _score(value: Any) -> Optional[float]:
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return score if score == score else None  # NaN is no score


# -- AI image jobs ------------------------------------------------------------------------------

def ai_image_summary(raw_result: Any, *, best: int = BEST_IMAGES) -> dict:
    """``{"Type": "AIImage", "Images": n, "Best": [{"Url", "Score"}, …]}`` from ``AIImageResult``."""
    parsed = json_in_text(raw_result)
    if isinstance(parsed, dict):  # a wrapper object: the first list inside it
        inner = _get(parsed, "Images", "ImageList", "AIImageList", "Results", "Result", "Data")
        parsed = json_in_text(inner) if inner is not None else [parsed]
    items: List[dict] = []
    if isinstance(parsed, list):
        for entry in parsed:
            entry = json_in_text(entry)
            if isinstance(entry, dict):
                url = _get(entry, "Url", "URL", "ImageUrl", "FileURL")
                items.append({"Url": _text(url), "Score": _score(_get(entry, "Score"))})
            elif isinstance(entry, str) and entry:
                items.append({"Url": entry, "Score": None})
    ranked = sorted((i for i in items if i["Url"]), key=lambda i: (i["Score"] is None, -(i["Score"] or 0.0)))
    summary: Dict[str, Any] = {"Type": "AIImage", "Images": len(items), "Best": [
        {k: v for k, v in i.items() if v is not None} for i in ranked[:best]]}
    if raw_result not in (None, "") and not items:
        summary["Unreadable"] = True  # VOD sent something vodai could not read: say so rather than "0 images"
    return summary


def ai_image_result(item: dict, *, detected_by: str = "poll") -> Optional[JobResult]:
    """A GetAIImageJobs list item as a result; None while the job runs."""
    status = final_status(_get(item, "Status"))
    if status is None:
        return None
    summary = ai_image_summary(_get(item, "AIImageResult")) if status == SUCCESS else None
    return JobResult(str(_get(item, "JobId") or ""), status, _text(_get(item, "Code")), _text(_get(item, "Message")),
                     summary, _text(_get(item, "CompleteTime")), detected_by)


# -- image audit jobs ---------------------------------------------------------------------------

def audit_summary(data: Any) -> dict:
    """``{"Type": "AIImageAudit", "Suggestion", "Label", "AbnormalModules", "Images": n,
    "Suggestions": {"block": a, "review": b, "pass": c}, "Top": [...]}`` from the audit ``Data``."""
    data = json_in_text(data)
    summary: Dict[str, Any] = {"Type": "AIImageAudit"}
    if not isinstance(data, dict):
        if data not in (None, ""):
            summary["Unreadable"] = True
        return summary
    for key in ("Suggestion", "Label", "AbnormalModules"):
        value = _get(data, key)
        if value not in (None, ""):
            summary[key] = _text(value)
    images = json_in_text(_get(data, "ImageResult", "ImageResults"))
    images = [json_in_text(i) for i in images] if isinstance(images, list) else []
    images = [i for i in images if isinstance(i, dict)]
    counts: Dict[str, int] = {}
    for image in images:
        suggestion = str(_get(image, "Suggestion") or "unknown").lower()
        counts[suggestion] = counts.get(suggestion, 0) + 1
    summary["Images"] = len(images)
    summary["Suggestions"] = counts
    # The worst images first (block, then review, then pass), each with its highest-scoring finding.
    order = {s: n for n, s in enumerate(_SUGGESTIONS)}
    top = []
    for image in images:
        findings = json_in_text(_get(image, "Result", "Results"))
        findings = [f for f in (findings if isinstance(findings, list) else []) if isinstance(f, dict)]
        worst = max(findings, key=lambda f: _score(_get(f, "Score")) or 0.0, default=None)
        entry: Dict[str, Any] = {"Url": _text(_get(image, "Url", "URL")), "Suggestion": _text(_get(image, "Suggestion")),
                 "Label": _text(_get(image, "Label"))}
        if worst is not None:
            entry.update(Scene=_text(_get(worst, "Scene")), Score=_score(_get(worst, "Score")))
        top.append({k: v for k, v in entry.items() if v is not None})
    top.sort(key=lambda e: (order.get(str(e.get("Suggestion", "")).lower(), len(order)), -(e.get("Score") or 0.0)))
    summary["Top"] = top[:BEST_IMAGES]
    return summary


def audit_result(job: dict, *, detected_by: str = "poll") -> Optional[JobResult]:
    """A ``MediaAuditJob`` object (or an AIMediaAuditComplete event body) as a result; None while it runs."""
    status = final_status(_get(job, "Status"))
    if status is None:
        return None
    data = _get(job, "Data")
    summary = audit_summary(data) if status == SUCCESS or data not in (None, "", {}) else None
    return JobResult(str(_get(job, "JobId") or ""), status, _text(_get(job, "Code")), _text(_get(job, "Message")),
                     summary, _text(_get(job, "CompleteTime")), detected_by)
