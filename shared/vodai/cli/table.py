"""``vodai invoke --table``: one short line per event outcome and a totals line, for people.

Samples of one upload in several delivery shapes are marked "same upload as <file>", so that
their duplicates read as what they are: the idempotency store doing its job.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

WIDTH = 100
_CAPS = (28, 11, 7, 14)  # widest file, status, action, region: a 32-character JobId fits in 100
_ACTIONS = {"SubmitAIImageJob": "AIImage", "SubmitAIImageAuditJob": "Audit"}
_STATUSES = {"dead_lettered": "dead-letter"}
_ORDER = ("submitted", "skipped", "failed", "dead-letter")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _fit_middle(text: str, width: int) -> str:
    """Cut from the middle: a file's folder (its shape) and its end (region, #index) both stay."""
    if len(text) <= width:
        return text
    tail = min(12, width // 2)
    return text[: width - tail - 1] + "…" + text[-tail:]


def rows(results: Sequence[Tuple[str, object]]) -> List[Tuple[str, str, str, str, str]]:
    """(file, status, action, region, JobId or reason) for each outcome of ``results``
    (``(event file, InvocationResult)`` pairs, in the order they ran)."""
    out = []
    first_seen: dict = {}  # (media id, action) -> the row label that first had it
    for name, result in results:
        outcomes = result.outcomes  # type: ignore[attr-defined]
        for o in outcomes:
            label = f"{name}#{o.index}" if len(outcomes) > 1 else name
            key = (o.media_id, o.action)
            if o.status == "submitted":
                detail = o.job_id or "-"
            elif o.duplicate and key in first_seen:
                detail = f"same upload as {first_seen[key]}"
            else:
                detail = o.reason or "-"
            if o.media_id and o.action:
                first_seen.setdefault(key, label)
            action = _ACTIONS.get(o.action, o.action) if o.action else "-"
            out.append((label, _STATUSES.get(o.status, o.status), action, o.region or "-", detail))
    return out


def lines(results: Sequence[Tuple[str, object]], width: int = WIDTH) -> List[str]:
    """The table's lines, none wider than ``width``: a header, one line per outcome, the totals.

    Parameters
    ----------
    results
        ``(event file, InvocationResult)`` pairs, in the order they ran.
    width
        The terminal's width.

    Returns
    -------
    list of str
        Plain text (no colour).
    """
    table = rows(results)
    header = ("file", "status", "action", "region", "JobId or reason")
    widths = [min(cap, max(len(r[i]) for r in [header, *table])) for i, cap in enumerate(_CAPS)]
    last = max(width - sum(widths) - 2 * len(widths), 10)
    text = []
    for row in [header, *table]:
        cells = [(_fit_middle if i == 0 else _fit)(cell, w).ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=False))]
        text.append(("  ".join(cells) + "  " + _fit(row[4], last)).rstrip())
    counts: dict = {}
    for row in table:
        counts[row[1]] = counts.get(row[1], 0) + 1
    same = sum(1 for row in table if row[4].startswith("same upload as "))
    parts = []
    for status in sorted(counts, key=lambda s: (_ORDER.index(s) if s in _ORDER else len(_ORDER), s)):
        note = f" ({same} the same upload as a line above)" if status == "skipped" and same else ""
        parts.append(f"{counts[status]} {status}{note}")
    text.append(_fit(f"{len(results)} events, {len(table)} outcomes: {', '.join(parts) or 'none'}", width))
    return text
