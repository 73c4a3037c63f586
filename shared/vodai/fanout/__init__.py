"""Fan-out: send events to the MNS queue that triggers ``on_upload`` instead of running them here.

    report = fan_out(((item_id, body) for ...), sender=MnsQueueClient(...), queue="vodai-events",
                     rate=500, checkpoint=Path("backfill.checkpoint"))

    with_outbox = open_outbox(client, "vodai-events", checkpoint=path, params={...}, detach=True)
    report = fan_out(pairs, outbox=with_outbox, rate=500)      # resumable, nothing sent twice

Items go out in batches of at most 16 (what MNS's BatchSendMessage takes), ``rate`` bounds the
messages per second, and a checkpoint (a file, :mod:`vodai.fanout.checkpoint`) makes an
interrupted run resumable:

- before a batch is sent its ids are recorded as ``pending``, and once MNS has answered, the ids it
  took as ``sent``; each record is fsync'd before the run goes on.
- a run given the same file skips every id recorded as sent; the file's first line names the run
  (command, region, window, queue...), and a run with other parameters refuses it.
- SIGINT or SIGTERM stops the run after the batch in flight is sent and recorded. With
  ``detach`` (:mod:`vodai.fanout.detached`), a batch is sent and recorded by a process of its own,
  which finishes it even when the command is killed with SIGKILL: nothing recorded as pending
  stays unsent-or-unrecorded, and the next run sends only what was not sent.
- what is still uncertain: a batch whose answer never came (the connection broke after MNS got
  it), or whose sending process died too. Recorded as pending but not as sent, it is sent again by
  the next run and counted in :attr:`FanOutReport.resent` (``on_upload``'s idempotency store turns
  such copies into skipped duplicates, never a second job).

Items MNS refused (an ``ErrorCode`` in the batch answer, or a failed request) are counted as
failed, not recorded as sent: the next run with the same checkpoint sends them.
"""

from .checkpoint import Checkpoint, read_params
from .outbox import MAX_BATCH, BatchSender, Outbox, open_outbox
from .send import FanOutReport, fan_out

__all__ = ["MAX_BATCH", "BatchSender", "Checkpoint", "FanOutReport", "Outbox", "fan_out", "open_outbox", "read_params"]
