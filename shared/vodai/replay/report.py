"""The replay's summary: counts, what needs a person, the failure file, and how to show them.

Counts are per event outcome (a batch file is several events), plus ``unreadable`` per input item:

    submitted      jobs submitted (and their JobId published) by this replay
    completed      job-completion events (AIMediaAuditComplete) whose completion message this replay published
    skipped        nothing to do, or already done
    duplicates     of the skipped: the job was submitted before (by the function or an earlier replay)
    uncertain      of the duplicates: a submit whose answer was lost (UNCERTAIN); see --resubmit-uncertain
    resubmitted    of the submitted: UNCERTAIN records deleted with --resubmit-uncertain
    dead_lettered  cannot succeed as delivered: dead-lettered again, with the reason
    failed         a retryable error (or the invocation itself failed)
    planned        dry run: would be submitted
    unreadable     input lines (or files) that could not be read

Items that did not reach a final outcome (failed, unreadable) are written to
``.vodai/replay/failed-<UTC time>.jsonl``, one raw event per line, ready to be replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, List, Optional

from ..deadletter import DeadLetter
from ..idempotency import job_key
from ..pipeline import DEAD_LETTERED, FAILED, FINAL, PLANNED, SKIPPED, SUBMITTED, Outcome
from .runner import ItemResult

UNREADABLE = "unreadable"
COUNT_NAMES = ("submitted", "resubmitted", "completed", "skipped", "duplicates", "uncertain", "dead_lettered", "failed", "planned",
               "unreadable")
# Statuses that mean "done": the final ones, and in a dry run the decision itself.
_DONE = FINAL | {PLANNED}


def _key(outcome: Outcome, prefix: str) -> Optional[str]:
    if outcome.action and outcome.media_id:
        return job_key(prefix, outcome.action, outcome.media_id, outcome.template_id)
    return None


def needs_retry(result: ItemResult) -> bool:
    """The item did not reach a final outcome: it belongs in the failure file."""
    unsettled = result.item.unreadable and not result.outcomes  # a settled line has its outcome
    return unsettled or result.error is not None or any(o.status not in _DONE for o in result.outcomes)


@dataclass
class Row:
    """One line of the report: an event's outcome, or an item that produced none."""

    result: ItemResult
    status: str
    outcome: Optional[Outcome] = None
    reason: Optional[str] = None
    uncertain: bool = False
    resubmitted: bool = False

    def to_dict(self) -> dict:
        item = self.result.item
        doc: dict = {"Source": item.source, "Line": item.line}
        if item.dead_letter_id:
            doc["FromDeadLetter"] = item.dead_letter_id
        if self.outcome is not None:
            doc.update(self.outcome.to_dict())
        else:
            doc.update({"Status": self.status, "Reason": self.reason})
        if self.uncertain:
            doc["Uncertain"] = True
        if self.resubmitted:
            doc["Resubmitted"] = True
        return doc

    @property
    def needs_attention(self) -> bool:
        return self.status in (FAILED, DEAD_LETTERED, UNREADABLE) or self.uncertain


class Summary:
    def __init__(self, results: List[ItemResult], *, prefix: str, target: str = "emulator", dry_run: bool = False,
                 interrupted: bool = False) -> None:
        self.results = results
        self.prefix = prefix
        self.target = target
        self.dry_run = dry_run
        self.interrupted = interrupted
        self.failed_file: Optional[str] = None
        self.rows = [row for r in results for row in self._rows(r)]

    def _rows(self, result: ItemResult) -> List[Row]:
        if result.item.unreadable and not result.outcomes:
            return [Row(result, UNREADABLE, reason=result.item.error)]
        if result.error is not None:
            return [Row(result, FAILED, reason=result.error)]
        rows = []
        for o in result.outcomes:
            key = _key(o, self.prefix)
            rows.append(Row(result, o.status, o, o.reason,
                            uncertain=o.status == SKIPPED and bool(o.duplicate) and key in result.uncertain,
                            resubmitted=o.status == SUBMITTED and key in result.resubmitted))
        return rows

    def counts(self) -> dict:
        counts = dict.fromkeys(COUNT_NAMES, 0)
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
            if row.status == SKIPPED and row.outcome is not None and row.outcome.duplicate:
                counts["duplicates"] += 1
            counts["uncertain"] += row.uncertain
            counts["resubmitted"] += row.resubmitted
        return counts

    @property
    def retry_results(self) -> List[ItemResult]:
        return [r for r in self.results if needs_retry(r)]

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.retry_results

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    @property
    def events(self) -> int:
        return sum(len(r.outcomes) for r in self.results)

    def problems(self) -> List[Row]:
        return [row for row in self.rows if row.needs_attention]

    def to_dict(self) -> dict:
        return {
            "Target": self.target,
            "DryRun": self.dry_run,
            "Items": len(self.results),
            "Events": self.events,
            "Counts": self.counts(),
            "Ok": self.ok,
            "ExitStatus": self.exit_status,
            "Interrupted": self.interrupted,
            "FailedFile": self.failed_file,
            "Problems": [row.to_dict() for row in self.problems()],
            "Outcomes": [row.to_dict() for row in self.rows],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


# -- the failure file --------------------------------------------------------------------------

def failure_line(result: ItemResult) -> Optional[bytes]:
    """The item as one JSONL line that replays it: the raw event (compacted to one line when it
    spans several), or, when the event is not JSON (base64 text, a broken body), a dead letter
    holding it. An unreadable line is kept as it was, for a person to fix."""
    item = result.item
    if item.unreadable:
        return item.text
    raw = item.raw or b""
    try:
        doc = json.loads(raw)
    except ValueError:
        reason = result.error or "; ".join(o.reason or o.status for o in result.outcomes if o.status not in _DONE)
        letter = DeadLetter.of(reason=f"replay of {item.origin}: {reason}", outcome={}, raw=raw, request_id=result.request_id)
        return letter.to_json().encode("utf-8")
    if b"\n" not in raw and b"\r" not in raw:
        return raw.strip()
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_failures(results: List[ItemResult], directory: Optional[Path] = None, *, now: Optional[datetime] = None) -> Optional[Path]:
    """Write the items that need another replay to ``<directory>/failed-<UTC time>.jsonl``; None when
    there are none (or none with anything to write)."""
    lines = [line for line in (failure_line(r) for r in results if needs_retry(r)) if line]
    if not lines:
        return None
    if directory is None:
        from ..paths import state_dir

        directory = state_dir() / "replay"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        path = directory / (f"failed-{stamp}.jsonl" if n == 0 else f"failed-{stamp}-{n}.jsonl")
        try:
            with open(path, "xb") as handle:  # never overwrite an earlier run's file
                handle.write(b"".join(line + b"\n" for line in lines))
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: too many failure files for {stamp}")


# -- showing it ----------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    from rich.markup import escape

    return escape(str(value)) if value not in (None, "") else "-"


def render_summary(summary: Summary, console) -> None:
    """The counts, then what needs attention (failed, dead-lettered, unreadable, uncertain)."""
    from rich.table import Table

    counts = summary.counts()
    title = (f"vodai replay on {summary.target}{' (dry run)' if summary.dry_run else ''}: "
             f"{len(summary.results)} items, {summary.events} events")
    console.print(title)
    table = Table()
    table.add_column("status")
    table.add_column("count", justify="right")
    for name in COUNT_NAMES:
        if name in ("uncertain", "resubmitted") and not counts[name]:
            continue
        label = f"  of which {name}" if name in ("duplicates", "uncertain", "resubmitted") else name
        table.add_row(label, str(counts[name]))
    console.print(table)
    problems = summary.problems()
    if problems:
        attention = Table(title="needs attention", title_justify="left")
        for col in ("input", "#", "status", "media", "region", "reason"):
            attention.add_column(col, overflow="fold", no_wrap=col == "media")
        for row in problems:
            o = row.outcome
            status = "skipped (uncertain)" if row.uncertain else row.status
            attention.add_row(_cell(row.result.item.origin), _cell(o.index if o else None), _cell(status),
                              _cell(o.media_id if o else None), _cell(o.region if o else None), _cell(row.reason))
        console.print(attention)
    if summary.interrupted:
        console.print("interrupted: items not run are listed as failed")


def render_plan(summary: Summary, console) -> None:
    """A dry run's decisions, one row per event: what would be submitted, skipped or dead-lettered."""
    from rich.table import Table

    table = Table(title="vodai replay --dry-run: decisions (nothing was called)", title_justify="left")
    for col in ("input", "#", "media", "type", "region", "decision", "reason / template"):
        table.add_column(col, overflow="fold", no_wrap=col == "media")
    for row in summary.rows:
        o = row.outcome
        if o is None:
            table.add_row(_cell(row.result.item.origin), "-", "-", "-", "-", _cell(row.status), _cell(row.reason))
            continue
        detail: Optional[str]
        if o.status == PLANNED:
            decision, detail = o.action, f"template {o.template_id or '(account default)'}"
        else:
            decision, detail = ("skip" if o.status == SKIPPED else "dead-letter" if o.status == DEAD_LETTERED else o.status), o.reason
        table.add_row(_cell(row.result.item.origin), _cell(o.index), _cell(o.media_id), _cell(o.media_type),
                      _cell(o.region), _cell(decision), _cell(detail))
    console.print(table)
