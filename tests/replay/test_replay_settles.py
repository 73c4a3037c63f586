"""Replaying dead letters never multiplies them: a letter replayed leaves its file, one that fails
again is kept once, and an unreadable line is dead-lettered once (issue 26, item 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import EVENTS
from vodai.deadletter import DeadLetter

from .helpers import replay


def _letters(directory: Path) -> list:
    """Every dead letter in the folder's own files (not in replayed/)."""
    return [json.loads(line) for f in sorted(directory.glob("*.jsonl")) for line in f.read_text().splitlines() if line]


def _bad_letter(n: int) -> str:
    """A letter whose event still cannot succeed: a video upload without its VideoId."""
    raw = (EVENTS / "malformed" / "missing-videoid.json").read_bytes()
    return DeadLetter.of(reason=f"earlier failure {n}", outcome={}, raw=raw, request_id=f"r{n}").to_json()


def test_three_replays_of_still_bad_letters_keep_their_count(sqlite_url, clean):
    letters = Path(os.environ["VODAI_DEAD_LETTERS"])
    letters.mkdir(parents=True)
    good = DeadLetter.of(reason="no template then", outcome={},
                         raw=(EVENTS / "raw" / "video-cn-shanghai.json").read_bytes(), request_id="g").to_json()
    (letters / "dead-letters-2026-01-01.jsonl").write_text("\n".join([_bad_letter(n) for n in range(20)] + [good]) + "\n")

    counts = []
    for _ in range(3):
        result, doc = replay(str(letters))
        assert result.exit_code == 0, result.stderr
        counts.append((len(_letters(letters)), doc["Counts"]["dead_lettered"], doc["Counts"]["submitted"]))
    # Each still-bad letter is there once, with its latest reason; the good one was submitted once and left.
    assert counts == [(20, 20, 1), (20, 20, 0), (20, 20, 0)]
    assert sum(1 for _ in (letters / "replayed").rglob("*.jsonl")) >= 1


def test_an_unreadable_line_is_dead_lettered_once(sqlite_url, clean):
    path = Path("events.jsonl")
    path.write_text((EVENTS / "raw" / "video-cn-shanghai.json").read_text().replace("\n", "") + "\n{broken\n")
    letters = Path(os.environ["VODAI_DEAD_LETTERS"])

    first_result, first = replay(str(path))
    second_result, second = replay(str(path))

    assert (first_result.exit_code, second_result.exit_code) == (0, 0)
    assert (first["Counts"]["dead_lettered"], second["Counts"]["dead_lettered"]) == (1, 0)
    assert second["Counts"]["skipped"] == 2  # the upload (a duplicate) and the line settled before
    [letter] = _letters(letters)
    assert letter["Event"] == "{broken" and letter["EventEncoding"] == "text"
    assert (first["FailedFile"], second["FailedFile"]) == (None, None)
    assert not list(Path(".vodai", "replay").glob("failed-*"))
    assert path.read_text().endswith("{broken\n")  # the user's file is never edited
