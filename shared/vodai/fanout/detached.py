"""A batch's send and its checkpoint record, in a process that outlives a kill of the command.

MNS stores a batch when BatchSendMessage reaches it; the checkpoint can record that only once the
answer is back. A process killed between the two (SIGKILL, a closed terminal) would leave a batch
sent but recorded as pending only, and the next run would send it again. So the command hands each
batch to a process of its own, forked when the fan-out starts and detached from the terminal's
signals (a session of its own), which records the batch as pending, sends it, records what MNS
took, and answers; the command waits for that answer before the next batch. Killed at any moment,
the command leaves at most one batch with that process, which finishes and records it, sees the
command gone (end of file on its pipe) and exits. The checkpoint's lock passes to it with its open
file, so a run started meanwhile waits until the record is complete (:mod:`vodai.fanout.checkpoint`).

A batch reaches that process whole or not at all: it is one length-prefixed frame, and a frame cut
short by a kill is dropped unsent.

What is still not covered: the whole process group or machine going down during a send (both
processes die), and an answer MNS never gave (the connection broke after the request arrived):
those batches stay pending, and the next run sends them again (``resent``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import sys
from typing import Any, List, Optional, Sequence

from ..exceptions import FanOutError
from .checkpoint import Checkpoint
from .outbox import BatchSender, Outbox

_LENGTH = struct.Struct(">I")


def can_detach() -> bool:
    """Whether this platform can fork (POSIX)."""
    return hasattr(os, "fork") and hasattr(os, "setsid")


class DetachedOutbox(Outbox):
    """An :class:`Outbox` whose batches are sent and recorded by a forked process.

    Fork it before starting any thread (a progress bar's): the child runs only this module's loop.
    """

    def __init__(self, sender: BatchSender, queue: str, record: Checkpoint) -> None:
        super().__init__(sender, queue, record)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child would print what is buffered a second time
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its work shows in the checkpoint and the queue
            status = 1
            try:
                os.close(to_child_w)
                os.close(from_child_r)
                status = _serve(to_child_r, from_child_w, sender, queue, record)
            finally:
                os._exit(status)
        os.close(to_child_r)
        os.close(from_child_w)
        record.forget()  # the child writes the records and holds the lock
        self.record = None
        self.pid = pid
        self._to_child: Optional[int] = to_child_w
        self._from_child = from_child_r

    def send(self, ids: Sequence[str], bodies: Sequence[str]) -> List[dict]:
        if self._to_child is None:
            raise FanOutError("the sending process is closed")
        _write_frame(self._to_child, {"ids": list(ids), "bodies": list(bodies)})
        answer = _read_frame(self._from_child)
        if answer is None:
            raise FanOutError("the sending process ended without answering: its batch stays pending in the "
                              "checkpoint, and the next run sends it again")
        if "error" in answer:
            raise FanOutError(str(answer["error"]))
        return list(answer["results"])

    def close(self) -> None:
        """End of input for the child; waits until it has recorded its last batch and exited."""
        if self._to_child is None:
            return
        os.close(self._to_child)
        self._to_child = None
        with contextlib.suppress(ChildProcessError):  # reaped elsewhere
            os.waitpid(self.pid, 0)
        os.close(self._from_child)


def _serve(requests: int, answers: int, sender: BatchSender, queue: str, record: Checkpoint) -> int:  # pragma: no cover
    """The child: one batch per frame until end of file; 0 when it ended cleanly."""
    os.setsid()  # no longer in the terminal's process group: a Ctrl-C there is the command's alone
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # whoever reads the command's stdout is not kept waiting by this process
    os.close(devnull)
    renewed = getattr(sender, "renewed", None)
    outbox = Outbox(renewed() if callable(renewed) else sender, queue, record)
    try:
        while True:
            batch = _read_frame(requests)
            if batch is None:
                return 0
            try:
                answer: dict = {"results": outbox.send(batch["ids"], batch["bodies"])}
            except Exception as exc:  # the checkpoint cannot be written: stop
                _answer(answers, {"error": str(exc)})
                return 1
            _answer(answers, answer)
    finally:
        outbox.close()


def _answer(fd: int, answer: dict) -> None:  # pragma: no cover - the child
    with contextlib.suppress(OSError):  # the command is gone: the batch is recorded, nobody to tell
        _write_frame(fd, answer)


def _write_frame(fd: int, payload: Any) -> None:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_frame(fd: int) -> Optional[Any]:
    """The next frame, or None at end of file (also when a frame was cut short)."""
    head = _read_exactly(fd, _LENGTH.size)
    if head is None:
        return None
    body = _read_exactly(fd, _LENGTH.unpack(head)[0])
    return None if body is None else json.loads(body)


def _read_exactly(fd: int, size: int) -> Optional[bytes]:
    chunks: List[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
