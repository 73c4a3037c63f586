"""Reading replay inputs into items: one item is one invocation's raw bytes, with where it came from.

Inputs:

- an event file (``.json`` or any name not ending in ``.jsonl``/``.ndjson``): its bytes as they are, in
  any delivery shape (the pipeline unwraps them; a file that is not even JSON is the pipeline's to
  dead-letter). A file holding one dead letter replays the dead letter's event.
- a JSONL file (``.jsonl``, ``.ndjson``): one item per non-blank line, either an event (any JSON value)
  or a dead letter (:meth:`DeadLetter.is_dead_letter`), whose ``Event`` is decoded and replayed. A line
  that is not JSON becomes an *unreadable* item naming ``file:line``.
- a directory: every ``*.json`` and ``*.jsonl`` below it, sorted, except ``expected.json`` and what is
  in a ``replayed/`` folder (letters already replayed, moved there by :mod:`vodai.replay.settle`).
- ``-``: standard input, read as JSONL.

Everything is read before anything runs, so a replay never reads a file that it is appending to
(dead letters written by the replay itself).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, List, Optional

from ..deadletter import DeadLetter, decode_event
from ..deadletter.base import EXCERPT
from ..exceptions import SourceError

JSONL_SUFFIXES = (".jsonl", ".ndjson")
DIRECTORY_PATTERNS = ("*.json", "*.jsonl")
SKIPPED_NAMES = frozenset({"expected.json"})
#: Folders of letters already replayed, below a directory replayed (see vodai.replay.settle).
REPLAYED_DIR = "replayed"
STDIN = "-"


@dataclass
class Item:
    """One invocation to replay. ``raw`` is None when the input could not be read (``error`` says why)."""

    source: str  # the file, or "-" for stdin
    line: Optional[int] = None  # 1-based line in a JSONL input
    raw: Optional[bytes] = None
    error: Optional[str] = None  # why the item is unreadable
    text: Optional[bytes] = None  # the input as read (a JSONL line), kept for the failure file
    dead_letter_id: Optional[str] = None  # when the item is a dead letter's event

    @property
    def origin(self) -> str:
        return self.source if self.line is None else f"{self.source}:{self.line}"

    @property
    def unreadable(self) -> bool:
        return self.raw is None


def read_sources(paths: Iterable[str], *, stdin: Optional[BinaryIO] = None) -> List[Item]:
    """Every item of ``paths``, in order. Raises :class:`SourceError` for a path that does not exist."""
    items: List[Item] = []
    for p in paths:
        if p == STDIN:
            if stdin is None:
                import sys

                stdin = sys.stdin.buffer
            items.extend(read_jsonl(stdin.read(), STDIN))
            continue
        path = Path(p)
        if path.is_dir():
            for child in _directory_files(path):
                items.extend(read_file(child))
        elif path.exists():
            items.extend(read_file(path))
        else:
            raise SourceError(f"{p}: no such file or directory")
    return items


def _directory_files(directory: Path) -> List[Path]:
    found = {f for pattern in DIRECTORY_PATTERNS for f in directory.rglob(pattern) if f.is_file()}
    # Letters already replayed (vodai.replay.settle) are history, not input.
    return sorted(f for f in found if f.name not in SKIPPED_NAMES and REPLAYED_DIR not in f.relative_to(directory).parts[:-1])


def read_file(path: Path) -> List[Item]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [Item(str(path), error=f"cannot read: {exc.strerror or exc}")]
    if path.suffix.lower() in JSONL_SUFFIXES:
        return read_jsonl(data, str(path))
    return [_file_item(str(path), data)]


def item_from_bytes(source: str, data: bytes) -> Item:
    """One item from an input's whole bytes (a file, a queue message): the event as it is, or the
    event of the one dead letter it holds."""
    return _file_item(source, data)


def _file_item(source: str, data: bytes) -> Item:
    """A whole file is one event, unless it is exactly one dead letter."""
    try:
        doc = json.loads(data)
    except ValueError:
        return Item(source, raw=data)
    if DeadLetter.is_dead_letter(doc):
        return _dead_letter_item(source, None, doc, data)
    return Item(source, raw=data)


def read_jsonl(data: bytes, source: str) -> List[Item]:
    items: List[Item] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a UTF-8 byte-order mark
        text = line.strip()
        if not text:
            continue
        try:
            doc = json.loads(text.decode("utf-8"))
        except UnicodeDecodeError:
            items.append(Item(source, number, error="not UTF-8 text", text=text))
            continue
        except ValueError as exc:
            items.append(Item(source, number, error=f"not JSON: {exc}", text=text))
            continue
        if DeadLetter.is_dead_letter(doc):
            items.append(_dead_letter_item(source, number, doc, text))
        else:
            items.append(Item(source, number, raw=text, text=text))
    return items


def _dead_letter_item(source: str, line: Optional[int], doc: dict, text: bytes) -> Item:
    encoding = doc.get("EventEncoding") or "json"
    letter_id = str(doc.get("DeadLetterId"))
    if encoding == EXCERPT:
        return Item(source, line, error=f"dead letter {letter_id}: keeps only an excerpt of its event "
                                        f"({doc.get('EventBytes')} bytes, sha256 {doc.get('EventSha256')}): not replayable",
                    text=text, dead_letter_id=letter_id)
    if encoding not in ("json", "text", "base64"):
        return Item(source, line, error=f"dead letter {letter_id}: unknown EventEncoding {encoding!r}", text=text,
                    dead_letter_id=letter_id)
    try:
        if encoding == "base64":
            base64.b64decode(doc["Event"], validate=True)  # decode_event would drop stray characters silently
        raw = decode_event(doc["Event"], encoding)
    except (binascii.Error, ValueError, TypeError) as exc:
        return Item(source, line, error=f"dead letter {letter_id}: cannot decode its Event ({encoding}): {exc}",
                    text=text, dead_letter_id=letter_id)
    return Item(source, line, raw=raw, text=text, dead_letter_id=letter_id)
