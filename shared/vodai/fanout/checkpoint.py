"""The checkpoint of a fan-out: what was sent, in an append-only file of JSON lines.

    {"checkpoint": 1, "params": {"command": "backfill", "region": "cn-shanghai", ...}}
    {"pending": ["cn-shanghai:video:v1", ...]}      a batch about to be sent
    {"sent": ["cn-shanghai:video:v1", ...]}         the ids of it MNS took

- The first line names the run (command, region, window, media, queue, endpoint): a run given
  other parameters refuses the file (:class:`~vodai.exceptions.CheckpointError`) instead of
  skipping items it never sent. A file without that line (written before it existed) is taken
  as it is.
- Each line is written and flushed before the run goes on, so a kill loses none. The first line
  and every ``sent`` record are fsync'd too (a new file's directory as well), so what was sent
  survives a power loss: that is the record that matters, the one written once MNS has answered.
  A ``pending`` record is not fsync'd: it only tells a later run which items it sends again
  (``resent``), and the ``sent`` record after it makes it durable anyway. A torn last line (a
  kill in the middle of a write) is ignored and ended, so the next record starts on its own line.
- One run at a time: the file is locked (``flock``) for as long as a run, or the process that
  finishes its last batch (:mod:`vodai.fanout.detached`), holds it open. A second run waits up to
  ``wait`` seconds for the lock, then refuses. Where ``fcntl`` is missing there is no lock.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Mapping, Optional, Sequence, Set

from ..exceptions import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

#: The version in the first line.
FORMAT = 1
#: How long a run waits for another run's lock (its last batch takes at most one request's timeout).
LOCK_WAIT = 60.0


class Checkpoint:
    """An open checkpoint: what earlier runs recorded, and the records of this one.

    Parameters
    ----------
    path
        The file (created with its folder when missing).
    params
        What this run is; compared with the file's first line, written as it when the file is new.
        None: no check, no first line.
    wait
        Seconds to wait for another run's lock before refusing.
    on_wait
        Called once when the lock is taken by another run and this one starts waiting.

    Raises
    ------
    CheckpointError
        The file is another run's, stays locked, or cannot be read or written.
    """

    def __init__(self, path: Path, params: Optional[Mapping[str, Any]] = None, *, wait: float = LOCK_WAIT,
                 on_wait: Optional[Callable[[], None]] = None) -> None:
        self.path = Path(path)
        self.params: Optional[Dict[str, Any]] = None
        self.sent: Set[str] = set()
        self.uncertain: Set[str] = set()  # pending in an earlier run, never recorded as sent
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            self._file: IO[str] = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise CheckpointError(f"--checkpoint {self.path}: cannot open it: {exc.strerror or exc}") from None
        try:
            _lock(self._file, self.path, wait, on_wait)
            if created:
                _fsync_directory(self.path.parent)
            records = self._read()
            self._check(params, records)
        except BaseException:
            self._file.close()
            raise

    def _read(self) -> int:
        """Reads the file; returns how many records it holds."""
        self._file.seek(0)
        text = self._file.read()
        pending: Set[str] = set()
        records = 0
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the torn last line of a run killed while writing it
            if not isinstance(record, dict):
                continue
            records += 1
            if "checkpoint" in record and isinstance(record.get("params"), dict):
                self.params = record["params"]
            pending.update(record.get("pending") or ())
            self.sent.update(record.get("sent") or ())
        self.uncertain = pending - self.sent
        if text and not text.endswith("\n"):
            self._append("")  # end a torn line, so the next record starts on its own
        return records

    def _check(self, params: Optional[Mapping[str, Any]], records: int) -> None:
        if params is None:
            return
        wanted = json.loads(json.dumps(dict(params)))  # as it reads back (tuples become lists)
        if self.params is None:
            if records == 0:
                self._append(json.dumps({"checkpoint": FORMAT, "params": wanted}, ensure_ascii=False, sort_keys=True))
                self.params = wanted
            return
        for key in sorted(set(wanted) | set(self.params)):
            if wanted.get(key) != self.params.get(key):
                raise CheckpointError(
                    f"--checkpoint {self.path} records another run ({key} {_shown(self.params.get(key))}, not "
                    f"{_shown(wanted.get(key))}): resume it with its own options, or give another --checkpoint FILE")

    def pending(self, ids: Sequence[str]) -> None:
        """Record a batch about to be sent (flushed, not fsync'd: see the module docstring)."""
        self._append(json.dumps({"pending": list(ids)}, ensure_ascii=False), durable=False)

    def done(self, ids: Sequence[str]) -> None:
        """Record the ids MNS took."""
        self.sent.update(ids)
        self._append(json.dumps({"sent": list(ids)}, ensure_ascii=False))

    def _append(self, line: str, *, durable: bool = True) -> None:
        try:
            self._file.write(line + "\n")
            self._file.flush()
            if durable:
                os.fsync(self._file.fileno())
        except OSError as exc:
            raise CheckpointError(f"--checkpoint {self.path}: cannot write it: {exc.strerror or exc}") from None

    def fileno(self) -> int:
        return self._file.fileno()

    def forget(self) -> None:
        """Close this process's handle without unlocking: after a fork, the other process
        (which keeps its own handle) writes the records and holds the lock until it closes."""
        self._file.close()

    def close(self) -> None:
        self._file.close()


def read_params(path: Path) -> Optional[Dict[str, Any]]:
    """The parameters recorded in the first line of ``path``; None when there are none (a new
    file, or one from before they were recorded). Read without the lock: for defaults only."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
        record = json.loads(first)
    except (OSError, ValueError):
        return None
    params = record.get("params") if isinstance(record, dict) and "checkpoint" in record else None
    return params if isinstance(params, dict) else None


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _lock(handle: IO[str], path: Path, wait: float, on_wait: Optional[Callable[[], None]]) -> None:
    if fcntl is None:  # pragma: no cover
        return
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise CheckpointError(f"--checkpoint {path} is in use by another run: wait for it to end (or stop "
                                      f"it), then run again") from None
            if not told and on_wait is not None:
                on_wait()
            told = True
            time.sleep(0.05)


def _fsync_directory(directory: Path) -> None:
    """Make a new file's name durable, not only its contents (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
