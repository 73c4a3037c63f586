"""Dead letters as JSON lines in a local directory, one file per day: easy to find, grep and replay."""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ...exceptions import DeadLetterError
from ..sink import DeadLetterSink

if TYPE_CHECKING:
    from ..base import DeadLetter


def append_locked(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` in one write under an exclusive lock, then fsync: lines from
    concurrent processes never interleave (a replay moving letters takes the same lock)."""
    with open(path, "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class JsonlDirectorySink(DeadLetterSink):
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def path_for_today(self) -> Path:
        return self.directory / f"dead-letters-{datetime.now(UTC):%Y-%m-%d}.jsonl"

    def write(self, letter: DeadLetter, secrets: Iterable[str] = ()) -> str:
        line = letter.to_json(secrets) + "\n"
        path = self.path_for_today()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            append_locked(path, line.encode("utf-8"))
        except OSError as exc:
            raise DeadLetterError(f"cannot write dead letter to {path}: {exc.strerror}") from None
        return str(path)

    def describe(self) -> str:
        return str(self.directory)
