"""What a replay leaves behind, so that replaying the same folder again never multiplies it.

- A dead letter that reached a final outcome is moved out of the file it was read from into
  ``replayed/<file name>`` beside it (a ``.json`` file holding one letter moves whole). If it was
  dead-lettered again, the new letter (new id, new reason) is the one kept, once.
- An unreadable input line (not JSON, not UTF-8, a dead letter whose Event cannot be decoded) is
  dead-lettered once, holding the line as it was: its sha256 goes into a ledger
  (``.vodai/replay/dead-lettered-lines.txt``), and a later replay of the same line skips it as
  settled. The input file itself is left alone: it may be the user's own.

Both are final outcomes: neither goes to ``failed-*.jsonl``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Set

from ..deadletter import DeadLetter
from ..deadletter.backends.jsonl import append_locked
from .sources import REPLAYED_DIR, STDIN

if TYPE_CHECKING:  # the runner uses the ledger: imported at run time only where needed
    from .runner import ItemResult

LEDGER_NAME = "dead-lettered-lines.txt"


def _append_locked(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    append_locked(path, data)


def _letter_id(line: bytes) -> Optional[str]:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return str(doc.get("DeadLetterId")) if DeadLetter.is_dead_letter(doc) else None


def _move_lines(path: Path, ids: Set[str]) -> int:
    """Move the lines of ``path`` holding the letters ``ids`` to ``replayed/<name>``; returns how many.

    Rewritten in place under the sink's lock, never replaced by a rename: a sink appending to the
    same file meanwhile (today's file, while its letters are replayed) keeps every line it writes.
    The moved lines are written first: a crash in between leaves a letter in both places (replayed
    again, a duplicate), never in neither.
    """
    if not path.is_file():  # moved or deleted since it was read
        return 0
    with open(path, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            kept: List[bytes] = []
            moved: List[bytes] = []
            for line in handle.read().splitlines(keepends=True):
                (moved if _letter_id(line.strip()) in ids else kept).append(line)
            if not moved:
                return 0
            _append_locked(path.parent / REPLAYED_DIR / path.name,
                           b"".join(line if line.endswith(b"\n") else line + b"\n" for line in moved))
            handle.seek(0)
            handle.write(b"".join(kept))
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return len(moved)


def retire_replayed(results: Iterable["ItemResult"]) -> int:
    """Move every dead letter of ``results`` that reached a final outcome into ``replayed/`` beside
    its file. Letters that did not (failed, interrupted) stay where they are, for the next replay.

    Parameters
    ----------
    results
        A replay's results (:meth:`Runner.run`).

    Returns
    -------
    int
        How many letters were moved.
    """
    from .report import needs_retry

    by_file: Dict[str, Set[str]] = {}
    whole: List[Path] = []
    for result in results:
        item = result.item
        if item.dead_letter_id is None or item.source == STDIN or needs_retry(result):
            continue
        if item.line is None:
            whole.append(Path(item.source))
        else:
            by_file.setdefault(item.source, set()).add(item.dead_letter_id)
    moved = sum(_move_lines(Path(source), ids) for source, ids in by_file.items())
    for path in whole:
        if path.exists():
            (path.parent / REPLAYED_DIR).mkdir(exist_ok=True)
            path.replace(path.parent / REPLAYED_DIR / path.name)
            moved += 1
    return moved


class LineLedger:
    """The sha256 of every unreadable line already dead-lettered, one hex digest per line of a file.

    Parameters
    ----------
    path
        The ledger file (default: ``.vodai/replay/dead-lettered-lines.txt``).
    """

    def __init__(self, path: Optional[Path] = None) -> None:
        if path is None:
            from ..paths import state_dir

            path = state_dir() / "replay" / LEDGER_NAME
        self.path = path
        self.lock = threading.Lock()  # held by a caller across has() and add(): one letter per line per run
        self._digests: Optional[Set[str]] = None

    @staticmethod
    def digest(text: bytes) -> str:
        return hashlib.sha256(text).hexdigest()

    def has(self, digest: str) -> bool:
        if self._digests is None:
            try:
                self._digests = set(self.path.read_text(encoding="ascii").split())
            except FileNotFoundError:
                self._digests = set()
        return digest in self._digests

    def add(self, digest: str) -> None:
        self.has(digest)  # loaded first: the set stays the file's whole content
        _append_locked(self.path, (digest + "\n").encode("ascii"))
        assert self._digests is not None
        self._digests.add(digest)
