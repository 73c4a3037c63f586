"""Shared pieces of the replay tests: running the command, capturing its target, the expected counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from click.testing import CliRunner

from conftest import EVENTS, expected_outcomes
from vodai.cli import main


def replay(*args: str, input: Optional[bytes] = None, as_json: bool = True):
    """Run ``vodai replay ARGS`` in process; returns (click result, the JSON summary or None)."""
    argv = ["replay", "--no-progress", "-q", *(["--json"] if as_json else []), *args]
    result = CliRunner().invoke(main, argv, input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    doc = json.loads(result.stdout) if as_json and result.stdout.strip().startswith("{") else None
    return result, doc


def expected_counts() -> dict:
    """What events/expected.json says: per event, submitted / skipped / dead-lettered, and the
    distinct jobs behind the submitted ones (the same upload is saved in several shapes)."""
    entries = [e for v in expected_outcomes().values() for e in v]
    submits = [e for e in entries if "error_field" not in e and not e["skipped"]]
    return {
        "submitted": len(submits),
        "jobs": len({(e["action"], e["media_id"]) for e in submits}),
        "skipped": sum(1 for e in entries if "error_field" not in e and e["skipped"]),
        "dead_lettered": sum(1 for e in entries if "error_field" in e),
        "events": len(entries),
    }


def statuses_by_sample(doc: dict) -> dict:
    """(sample, index) -> status word as expected.json spells it: submitted (or its duplicate), skipped, dead."""
    out = {}
    for row in doc["Outcomes"]:
        rel = str(Path(row["Source"]).resolve().relative_to(EVENTS))
        if row["Status"] == "submitted" or (row["Status"] == "skipped" and row.get("Duplicate")):
            word = "submit"
        else:
            word = row["Status"]
        out[(rel, row["Index"])] = word
    return out


def expected_by_sample() -> dict:
    out = {}
    for rel, entries in expected_outcomes().items():
        for n, e in enumerate(entries):
            out[(rel, n)] = "dead_lettered" if "error_field" in e else "skipped" if e["skipped"] else "submit"
    return out
